import pytest
import torch

from agentgym.train import checkpoint
from agentgym.train.config import TrainConfig, apply_overrides, parse_args
from agentgym.util.metrics import MetricsLogger, read_metrics


def test_cli_overrides_preset_which_overrides_defaults(tmp_path):
    preset = tmp_path / "p.yaml"
    preset.write_text("credit: grpo\nlr: 0.001\nshapers: []\n")
    config = parse_args(["--config", str(preset), "--lr", "3e-4", "--credit-params", "{norm: mean}",
                         "--dual-clip", "none", "--modifiers", "empg,other"])
    assert (config.credit, config.lr, config.shapers) == ("grpo", 3e-4, [])
    assert config.credit_params == {"norm": "mean"} and config.dual_clip is None
    assert config.modifiers == ["empg", "other"] and config.group_size == TrainConfig().group_size


def test_unknown_keys_are_errors(tmp_path):
    with pytest.raises(ValueError, match="Unknown config keys"):
        apply_overrides(TrainConfig(), {"learning_rate": 1.0})
    with pytest.raises(SystemExit):
        parse_args(["--learning-rate", "1"])


def test_every_preset_loads():
    from pathlib import Path

    for preset in sorted(Path(__file__).resolve().parents[3].glob("configs/*.yaml")):
        parse_args(["--config", str(preset)])


def test_every_built_in_environment_has_a_gigpo_preset():
    """TextWorld-v0 plays the user's own game files, Synthetic-v0 is the generation engine's test bed
    (costs and faults on demand) and openenv/Remote-v0 plays whatever OpenEnv server it is pointed at,
    so none has a preset of its own."""
    from pathlib import Path

    from agentgym.core import plugins

    presets = Path(__file__).resolve().parents[3].glob("configs/*_gigpo.yaml")
    covered = {parse_args(["--config", str(p)]).env for p in presets}
    built_in = set(plugins.entry_points(plugins.ENVS))  # not what other tests registered in this process
    own_presets = built_in - {"agentgym/TextWorld-v0", "agentgym/Synthetic-v0", "openenv/Remote-v0"}
    assert own_presets <= covered


def test_checkpoint_is_atomic_and_pruned(tmp_path):
    saved = []

    def save_policy(folder):
        folder.mkdir()
        (folder / "weights").write_text("w")
        saved.append(folder)

    for iteration in (1, 2, 3):
        checkpoint.save(tmp_path, iteration, {"iteration": iteration}, save_policy, keep=2)
    assert checkpoint.latest(tmp_path).name == "iter_000003"
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["iter_000002", "iter_000003", "latest"]
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    checkpoint.save(tmp_path, 4, {"iteration": 4}, save_policy)
    _ = torch.rand(3)
    state = checkpoint.load_state(checkpoint.latest(tmp_path))
    assert state["iteration"] == 4
    torch.testing.assert_close(torch.rand(3), expected)  # RNG restored to the moment of saving


def test_half_written_checkpoint_is_ignored(tmp_path):
    def broken(folder):
        raise KeyboardInterrupt  # killed while writing

    checkpoint.save(tmp_path, 1, {"iteration": 1}, lambda f: f.mkdir())
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(tmp_path, 2, {"iteration": 2}, broken)
    assert checkpoint.latest(tmp_path).name == "iter_000001"


def _policy(folder):
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"w" * 1000)


def _three_checkpoints(tmp_path):
    for iteration in (1, 2, 3):
        checkpoint.save(tmp_path, iteration, {"iteration": iteration}, _policy, keep=3)
    return tmp_path / "checkpoints"


@pytest.mark.parametrize("damage_it, why", [
    (lambda c: (c / "latest").write_text("iter_000099"), "missing"),  # dangling pointer
    (lambda c: (c / "latest").write_bytes(b"\xff\xfe"), None),  # corrupt pointer: the newest intact wins
    (lambda c: (c / "iter_000003" / "meta.json").unlink(), "meta.json unreadable"),
    (lambda c: (c / "iter_000003" / "trainer_state.pt").write_bytes(b"torn"), "checksum mismatch in trainer_state.pt"),
    (lambda c: (c / "iter_000003" / "policy" / "model.safetensors").write_bytes(b"x" * 1000), "checksum mismatch"),
])
def test_a_damaged_checkpoint_falls_back_to_the_newest_intact_one(tmp_path, capsys, damage_it, why):
    """A corrupt or dangling latest, a lost meta.json or corrupt state/weights once meant a silent fresh start
    (or a raw traceback); the SHA-256 list in meta.json tells the damaged checkpoint from the intact ones."""
    root = _three_checkpoints(tmp_path)
    damage_it(root)
    expected = "iter_000003" if why in ("missing", None) else "iter_000002"
    assert checkpoint.latest(tmp_path).name == expected
    assert checkpoint.load_state(checkpoint.latest(tmp_path))["iteration"] == int(expected[-1])
    if why:
        assert why in capsys.readouterr().err


def test_resuming_past_a_damaged_checkpoint_never_prunes_the_one_just_written(tmp_path):
    """Resumed from iter 2 past a damaged iter 3: saving iter 3 again with keep=1 once kept the old,
    higher-numbered folder and pruned the new one, leaving latest pointing at nothing."""
    root = _three_checkpoints(tmp_path)
    (root / "iter_000003" / "trainer_state.pt").write_bytes(b"torn")
    (root / "iter_000004").mkdir()  # an abandoned continuation, half there
    assert checkpoint.latest(tmp_path).name == "iter_000002"
    checkpoint.save(tmp_path, 3, {"iteration": 3}, _policy, keep=1)
    assert sorted(p.name for p in root.iterdir()) == ["iter_000003", "latest"]
    assert checkpoint.load_state(checkpoint.latest(tmp_path))["iteration"] == 3


def test_a_failed_write_says_the_disk_is_full_and_leaves_nothing_behind(tmp_path, monkeypatch):
    """torch reports a full disk as RuntimeError('basic_ios::clear: iostream error') and left a .tmp_iter_ folder."""
    import shutil
    from collections import namedtuple

    checkpoint.save(tmp_path, 1, {"iteration": 1}, _policy)

    def full_disk(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos; basic_ios::clear: iostream error")

    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 4096, 4096))
    with pytest.raises(checkpoint.CheckpointWriteError, match="could not write checkpoint 2 .*the disk is full"):
        checkpoint.save(tmp_path, 2, {"iteration": 2}, _policy)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["iter_000001", "latest"]
    assert checkpoint.latest(tmp_path).name == "iter_000001"


def test_a_real_full_disk(tmp_path):
    """The same on a 2 MiB tmpfs (needs permission to mount; skipped where there is none)."""
    import subprocess

    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        def big_policy(folder):
            folder.mkdir()
            (folder / "model.safetensors").write_bytes(b"w" * (3 * 2**20))  # more than the disk holds

        with pytest.raises(checkpoint.CheckpointWriteError, match="the disk is full"):
            checkpoint.save(mount, 1, {"iteration": 1}, big_policy)
        assert [p.name for p in (mount / "checkpoints").iterdir()] == []
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_metrics_jsonl_last_write_wins(tmp_path, capsys):
    logger = MetricsLogger(tmp_path, tensorboard=False)
    logger.log(1, {"rollout/success_rate": 0.25, "loss/pg": float("nan")})
    logger.log(1, {"rollout/success_rate": 0.5})
    logger.log(2, {"eval/success_rate": 0.75})
    logger.close()
    assert "[iter 1] rollout/success_rate=0.25" in capsys.readouterr().out
    rows = read_metrics(tmp_path)
    assert rows == [{"iteration": 1, "rollout/success_rate": 0.5}, {"iteration": 2, "eval/success_rate": 0.75}]
