"""A run folder holds one run: a fresh run never mixes into another's metrics, checkpoints and reports.

Training into a folder that already holds a run once appended a second run's rows to ``metrics.jsonl``
(31 became 62 rows) and overwrote its ``config.yaml`` and ``summary.json``. Now a fresh run there is
refused unless ``--resume true`` (continue it) or ``--overwrite true`` (replace it) says which was meant.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from agentgym.train import checkpoint

RUN_FILES = ("metrics.jsonl", "config.yaml", "summary.json", "learning_curve.png")
RUN_FOLDERS = ("checkpoints", "eval", "final_policy", "tensorboard", "ranks")


def holds_a_run(run_dir: Path) -> bool:
    """True when ``run_dir`` has a run's metrics rows or checkpoints."""
    metrics = run_dir / "metrics.jsonl"
    return (metrics.is_file() and metrics.stat().st_size > 0) or (run_dir / "checkpoints").is_dir()


def describe(run_dir: Path) -> str:
    metrics = run_dir / "metrics.jsonl"
    rows = sum(1 for line in metrics.open() if line.strip()) if metrics.is_file() else 0
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").glob("iter_*"))
    return f"{rows} metrics rows, " + (f"checkpoints up to {checkpoints[-1]}" if checkpoints else "no checkpoint")


class RunFolderError(Exception):
    """This run cannot use its folder as asked; the CLI prints the message instead of a traceback."""


class RunFolderInUse(RunFolderError, FileExistsError):
    """A fresh run into a folder that holds a run."""


class NothingToResume(RunFolderError, FileNotFoundError):
    """``--resume`` into a run that has no intact checkpoint."""


class ContradictoryFlags(RunFolderError, ValueError):
    """``--resume`` and ``--overwrite`` together."""


def check(run_dir: Path, resume: bool, overwrite: bool) -> Path | None:
    """The intact checkpoint to resume from (None: start afresh); raises if this run would mix into the
    one ``run_dir`` holds. Every rank checks, so all raise alike; checkpoints are verified once, here."""
    if resume and overwrite:
        raise ContradictoryFlags("--resume and --overwrite contradict each other: continue the run in run_dir, "
                                 "or replace it")
    if not resume:
        if not overwrite and holds_a_run(run_dir):
            raise RunFolderInUse(f"{run_dir} already holds a run ({describe(run_dir)}). Pass --resume true to "
                                 "continue it, --overwrite true to replace it, or another --run-dir")
        return None
    latest = checkpoint.latest(run_dir)
    if latest is None and holds_a_run(run_dir):
        raise NothingToResume(f"--resume: {run_dir} holds a run ({describe(run_dir)}) but no intact checkpoint to "
                              "continue it from (a run starting again would append to its metrics); pass "
                              "--overwrite true instead of --resume to start it again")
    return latest


def clear(run_dir: Path) -> list[str]:
    """Remove the previous run's files and folders (``--overwrite``); returns their names. Other files stay."""
    removed = []
    for name in RUN_FILES:
        if (run_dir / name).is_file():
            (run_dir / name).unlink()
            removed.append(name)
    for name in RUN_FOLDERS:
        if (run_dir / name).is_dir():
            shutil.rmtree(run_dir / name)
            removed.append(name + "/")
    return removed
