"""Atomic checkpoints: a run killed at any moment resumes from its last complete checkpoint.

A checkpoint is a folder ``checkpoints/iter_000010`` written under a temporary name and renamed
into place; ``checkpoints/latest`` (a one-line file, also replaced atomically) names the newest.
A data-parallel run writes one checkpoint (from rank 0) holding every rank's random-number state.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch


def save(run_dir: str | Path, iteration: int, state: dict[str, Any], save_policy, keep: int = 2,
         rng_states: list[dict[str, Any]] | None = None) -> Path:
    """Write ``state`` (torch-serialisable) and the policy (via ``save_policy(folder)``) atomically.

    ``rng_states``: the random-number state of every rank, in rank order (default: this process's).
    """
    final = checkpoint_dir(run_dir, iteration)
    root = final.parent
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp_iter_{iteration:06d}_{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_policy(tmp / "policy")
    torch.save({**state, "rng": rng_states or [rng_state()]}, tmp / "trainer_state.pt")
    (tmp / "meta.json").write_text(json.dumps({"iteration": iteration}))
    _fsync_dir(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _write_atomic(root / "latest", final.name)
    _prune(root, keep)
    return final


def checkpoint_dir(run_dir: str | Path, iteration: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"iter_{iteration:06d}"


def latest(run_dir: str | Path) -> Path | None:
    pointer = Path(run_dir) / "checkpoints" / "latest"
    if not pointer.exists():
        return None
    path = pointer.parent / pointer.read_text().strip()
    return path if (path / "meta.json").exists() else None


def load_state(checkpoint: Path, rank: int = 0) -> dict[str, Any]:
    """The saved state, with rank ``rank``'s random-number state restored; ``state["rng_restored"]`` is
    False when the checkpoint holds none for that rank (it was written at a smaller world size)."""
    state = torch.load(checkpoint / "trainer_state.pt", weights_only=False)
    saved = state.pop("rng")
    saved = [saved] if isinstance(saved, dict) else saved  # checkpoints written before data parallelism
    if rank < len(saved):
        restore_rng(saved[rank])
    state["rng_restored"] = rank < len(saved)
    state["saved_world_size"] = len(saved)
    return state


def rng_state() -> dict[str, Any]:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    for file in path.rglob("*"):
        if file.is_file():
            with file.open("rb") as f:
                os.fsync(f.fileno())


def _prune(root: Path, keep: int) -> None:
    done = sorted(p for p in root.glob("iter_*") if p.is_dir())
    for old in done[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
