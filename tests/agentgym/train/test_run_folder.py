"""Run folders: a fresh run never mixes into another, a resume never silently starts again."""

import pytest

from agentgym.train import checkpoint, run_folder


def _policy(folder):
    folder.mkdir()
    (folder / "weights").write_text("w")


def test_fresh_resumed_and_overwritten_runs(tmp_path):
    run_folder.check(tmp_path / "new", resume=False, overwrite=False)  # nothing there yet
    (tmp_path / "metrics.jsonl").write_text('{"iteration": 0}\n{"iteration": 1}\n')
    with pytest.raises(FileExistsError, match=r"2 metrics rows, no checkpoint\)\. Pass --resume true"):
        run_folder.check(tmp_path, resume=False, overwrite=False)
    # killed before its first checkpoint: resuming would start again and append to the metrics
    with pytest.raises(FileNotFoundError, match="no intact checkpoint"):
        run_folder.check(tmp_path, resume=True, overwrite=False)
    checkpoint.save(tmp_path, 1, {"iteration": 1}, _policy)
    run_folder.check(tmp_path, resume=True, overwrite=False)
    with pytest.raises(ValueError, match="contradict"):
        run_folder.check(tmp_path, resume=True, overwrite=True)
    (tmp_path / "notes.txt").write_text("mine")
    assert run_folder.clear(tmp_path) == ["metrics.jsonl", "checkpoints/"]
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]  # only the run's own files go
    run_folder.check(tmp_path, resume=False, overwrite=False)
