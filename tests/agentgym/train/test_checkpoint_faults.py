"""Checkpoint and run-folder faults: a full disk in the middle of the weights, a writer killed mid-write,
a ``latest`` pointer into another run, a metrics row cut short, a corrupt config.yaml."""

import os
import sys
from pathlib import Path

import pytest
import safetensors
import safetensors.torch
import yaml

from agentgym.core import plugins
from agentgym.train import checkpoint
from agentgym.train.loop import main
from agentgym.util.metrics import read_metrics

ROOT = Path(__file__).resolve().parents[3]
# what safetensors raises when the disk fills during serialize_file (a Rust io::Error, not an OSError)
FULL = 'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })'


def _flags(model, run_dir, **extra):
    flags = {"config": str(ROOT / "configs" / "smoke.yaml"), "model": model, "run-dir": str(run_dir),
             "max-new-tokens": "8", "max-steps": "6", "eval-every": "0", "summary-splits": "",
             "summary-baselines": "", **extra}
    return [x for key, value in flags.items() for x in (f"--{key}", str(value))]


@pytest.fixture
def full_disk(monkeypatch):
    """safetensors writes the first megabyte of the weights file, then the disk is full."""
    def serialize_file(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"\0" * 2**20)
        raise safetensors.SafetensorError(FULL)

    monkeypatch.setattr(safetensors.torch, "serialize_file", serialize_file)


def test_a_full_disk_in_the_safetensors_write_is_a_clear_error_and_leaves_nothing_half_written(
        micro_model, tmp_path, full_disk):
    """It once ended in a raw SafetensorError and left .tmp_iter_* or half a final_policy/ behind."""
    policy = plugins.policy_from_spec(micro_model)
    with pytest.raises(checkpoint.CheckpointWriteError, match="could not write checkpoint 3 .*: the disk is full"):
        checkpoint.save(tmp_path, 3, {"iteration": 3}, policy.save)
    assert list((tmp_path / "checkpoints").iterdir()) == []
    with pytest.raises(checkpoint.CheckpointWriteError, match="could not write the final policy .*the disk is full"):
        checkpoint.save_final(tmp_path, policy.save)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints"]


def test_a_full_disk_at_the_end_of_a_run_is_one_line(micro_model, tmp_path, full_disk, capsys):
    with pytest.raises(SystemExit) as stop:
        main(_flags(micro_model, tmp_path, iterations="1"))
    message = str(stop.value.code)
    assert "could not write checkpoint 1" in message and "the disk is full" in message and "\n" not in message
    assert not [p.name for p in tmp_path.rglob(".tmp_*")]


def test_resume_after_a_killed_writer_a_foreign_pointer_and_a_cut_metrics_row(micro_model, tmp_path, capsys):
    run, other = tmp_path / "run", tmp_path / "other"
    main(_flags(micro_model, run, iterations="2"))
    # another run's checkpoint 5, which the pointer below tries to resume from
    checkpoint.save(other, 5, {"iteration": 5}, lambda folder: folder.mkdir())
    (run / "checkpoints" / "iter_000005").symlink_to(other / "checkpoints" / "iter_000005")
    (run / "checkpoints" / "latest").write_text("iter_000005")
    # a writer killed mid-write (pid 2**22 + 1 is above any pid Linux hands out by default)
    stale = run / "checkpoints" / f".tmp_iter_000003_{2**22 + 1}"
    (stale / "policy").mkdir(parents=True)
    (stale / "policy" / "model.safetensors").write_bytes(b"\0" * 1000)
    (run / f".tmp_final_policy_{2**22 + 1}").mkdir()
    with (run / "metrics.jsonl").open("a") as f:
        f.write('{"iteration": 2, "rollout/success_ra')  # killed in the middle of a row
    capsys.readouterr()
    main(["--run-dir", str(run), "--resume", "true", "--iterations", "3"])
    out, err = capsys.readouterr()
    assert "iter_000005 skipped: a symbolic link, not a checkpoint folder of this run" in err
    assert f"left half-written in {run}: .tmp_final_policy_4194305, .tmp_iter_000003_4194305" in out + err
    assert not list(run.rglob(".tmp_*"))
    assert [r["iteration"] for r in read_metrics(run)] == [1, 2, 3]  # eval_every 0: no row 0
    assert all(line.startswith('{"iteration": ') for line in (run / "metrics.jsonl").read_text().splitlines())
    assert checkpoint.latest(run).name == "iter_000003"  # continued from its own iteration 2
    assert (other / "checkpoints" / "iter_000005").is_dir()  # the other run is untouched


def test_a_latest_pointer_out_of_the_run_folder_is_refused(tmp_path, capsys):
    """``../../other/checkpoints/iter_000005`` once resumed another run's checkpoint."""
    run, other = tmp_path / "run", tmp_path / "other"
    for folder, iteration in ((run, 2), (other, 5)):
        checkpoint.save(folder, iteration, {"iteration": iteration}, lambda policy: policy.mkdir())
    for pointer in ("../../other/checkpoints/iter_000005", str(other / "checkpoints" / "iter_000005"), "iter_000002/.."):
        (run / "checkpoints" / "latest").write_text(pointer)
        assert checkpoint.latest(run) == run / "checkpoints" / "iter_000002"
        assert f"ignored: {pointer!r} is not a checkpoint folder of this run" in capsys.readouterr().err


def test_a_corrupt_config_yaml_on_resume_is_one_line(micro_model, tmp_path):
    main(_flags(micro_model, tmp_path, iterations="1"))
    (tmp_path / "config.yaml").write_text("iterations: 2\nlr: [0.1\nmodel: x\n")
    with pytest.raises(SystemExit) as stop:
        main(["--run-dir", str(tmp_path), "--resume", "true"])
    message = str(stop.value.code)
    assert message.startswith(f"{tmp_path / 'config.yaml'}: not valid YAML at line") and "\n" not in message
    (tmp_path / "config.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SystemExit, match="cannot read it|not valid YAML"):
        main(["--run-dir", str(tmp_path), "--resume", "true"])


def test_the_cli_prints_no_traceback_for_a_corrupt_config_yaml(micro_model, tmp_path):
    import subprocess

    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"iterations": 1})[:-1] + ": : [\n")
    (tmp_path / "metrics.jsonl").write_text('{"iteration": 0}\n')
    done = subprocess.run([sys.executable, "-m", "agentgym.train", "--run-dir", str(tmp_path), "--resume", "true"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "not valid YAML" in done.stderr.strip().splitlines()[-1]
