"""Metric logging: one greppable line per iteration on stdout, a JSONL file, TensorBoard, optional wandb.

Keys are hierarchical (``rollout/``, ``credit/``, ``loss/``, ``eval/``, ``time/``) and defined in
docs/metrics.md.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


class MetricsLogger:
    def __init__(self, run_dir: str | Path, tensorboard: bool = True, wandb_project: str | None = None,
                 config: dict[str, Any] | None = None, echo: bool = True):
        self.path = Path(run_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        drop_partial_last_line(self.path)
        self.echo = echo
        self._tb = None
        self._wandb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(Path(run_dir) / "tensorboard"))
        if wandb_project:
            import wandb

            self._wandb = wandb.init(project=wandb_project, config=config, dir=str(run_dir))

    def log(self, iteration: int, metrics: dict[str, float]) -> None:
        clean = {k: float(v) for k, v in metrics.items() if v is not None and not _is_nan(v)}
        with self.path.open("a") as f:
            f.write(json.dumps({"iteration": iteration, **clean}) + "\n")
        if self._tb is not None:
            for key, value in clean.items():
                self._tb.add_scalar(key, value, iteration)
            self._tb.flush()
        if self._wandb is not None:
            self._wandb.log(clean, step=iteration)
        if self.echo:
            print(format_line(iteration, clean), flush=True)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()


class NullLogger:
    """The logger of data-parallel ranks other than 0 (rank 0 writes the run's metrics)."""

    def log(self, iteration: int, metrics: dict[str, float]) -> None:
        pass

    def close(self) -> None:
        pass


def format_line(iteration: int, metrics: dict[str, float]) -> str:
    parts = [f"{k}={v:.4g}" for k, v in sorted(metrics.items())]
    return f"[iter {iteration}] " + " ".join(parts)


def read_metrics(run_dir: str | Path) -> list[dict[str, float]]:
    """Rows of a run's metrics.jsonl; the last row wins when a resumed run re-logged an iteration."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    rows: dict[int, dict[str, float]] = {}
    for line in path.read_text(errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:  # a row cut short by a kill mid-write (or a blank line): it never happened
            continue
        if isinstance(row, dict) and isinstance(row.get("iteration"), int):
            rows.setdefault(row["iteration"], {}).update(row)
    return [rows[k] for k in sorted(rows)]


def drop_partial_last_line(path: Path) -> None:
    """Cut a last line without its newline (a process killed mid-write), so the next row starts on a line
    of its own instead of being glued to the fragment."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    with path.open("rb+") as f:
        f.seek(-1, 2)
        if f.read(1) == b"\n":
            return
        data = f.seek(0) or f.read()
        f.truncate(data.rfind(b"\n") + 1)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
