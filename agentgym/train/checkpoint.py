"""Atomic checkpoints: a run killed at any moment resumes from its last complete checkpoint.

A checkpoint is a folder ``checkpoints/iter_000010`` written under a temporary name and renamed
into place; ``checkpoints/latest`` (a one-line file, also replaced atomically) names the newest.
A data-parallel run writes one checkpoint (from rank 0) holding every rank's random-number state.

``meta.json`` lists a SHA-256 of every file, so a damaged checkpoint (a truncated ``trainer_state.pt``,
corrupt weights, a lost ``meta.json``) is told apart from an intact one: ``latest`` then falls back to
the newest intact checkpoint, saying which it skipped and why, instead of resuming from garbage or
from nothing. A failed write (a full disk) removes its temporary folder and says what failed and how
much space is left; so does a failed write of ``final_policy/``, which is written under a temporary name
and renamed into place like a checkpoint. A writer killed mid-write leaves its temporary folder behind:
the next start of the run removes it (``remove_stale_writes``). ``latest`` names a checkpoint folder of
this run (``iter_N``) and nothing else: a pointer such as ``../../other/checkpoints/iter_000010`` is
refused and the newest intact checkpoint of this run is used.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import re
import shutil
import sys
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
    try:
        tmp.mkdir()
        save_policy(tmp / "policy")
        torch.save({**state, "rng": rng_states or [rng_state()]}, tmp / "trainer_state.pt")
        (tmp / "meta.json").write_text(json.dumps({"iteration": iteration, "sha256": _checksums(tmp)}))
        _fsync_dir(tmp)
    except Exception as exc:  # torch reports a full disk as RuntimeError("... iostream error"), safetensors as
        shutil.rmtree(tmp, ignore_errors=True)  # SafetensorError("... No space left on device"), neither an OSError
        raise CheckpointWriteError(_write_failure(root, f"checkpoint {iteration}", exc)) from exc
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _write_atomic(root / "latest", final.name)
    _prune(root, keep, final)
    return final


def save_final(run_dir: str | Path, save_policy) -> Path:
    """Write ``final_policy/`` through ``save_policy(folder)`` atomically: whole, or not at all."""
    run_dir = Path(run_dir)
    final = run_dir / FINAL_POLICY
    tmp = run_dir / f"{TMP_FINAL}{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        save_policy(tmp)
        _fsync_dir(tmp)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointWriteError(_write_failure(run_dir, "the final policy", exc)) from exc
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


FINAL_POLICY = "final_policy"
TMP_CHECKPOINT = ".tmp_iter_"
TMP_FINAL = ".tmp_final_policy_"
POINTER = re.compile(r"iter_\d+")  # what checkpoints/latest may hold: a folder name in checkpoints/


def remove_stale_writes(run_dir: str | Path) -> list[str]:
    """Remove the temporary folders of writers that were killed mid-write (only one process writes a run's
    checkpoints, and it calls this before its first write); returns their names."""
    run_dir = Path(run_dir)
    found = [*(run_dir / "checkpoints").glob(TMP_CHECKPOINT + "*"), *run_dir.glob(TMP_FINAL + "*"),
             *(run_dir / "checkpoints").glob(".latest.tmp")]
    stale = [p for p in found if not p.name.endswith(f"_{os.getpid()}")]
    for path in stale:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return sorted(p.name for p in stale)


class CheckpointWriteError(OSError):
    """A checkpoint or the final policy could not be written; the previous checkpoints are untouched."""


def _write_failure(root: Path, what: str, exc: BaseException) -> str:
    try:
        free = shutil.disk_usage(root).free
    except OSError:
        free = None
    no_space = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
    no_space = no_space or "No space left on device" in str(exc) or "StorageFull" in str(exc)  # safetensors
    full = no_space or (free is not None and free < 2**26)  # torch's RuntimeError carries no errno
    where = f"{root} ({free / 2**30:.2f} GiB free)" if free is not None else str(root)
    why = "the disk is full" if full else f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return (f"could not write {what} to {where}: {why}. The earlier checkpoints are intact; "
            "free space (or pass another --run-dir) and resume with --resume true")


def _checksums(folder: Path) -> dict[str, str]:
    out = {}
    for file in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "meta.json"):
        with file.open("rb") as f:
            out[file.relative_to(folder).as_posix()] = hashlib.file_digest(f, "sha256").hexdigest()
    return out


def damage(path: Path) -> str | None:
    """Why the checkpoint folder ``path`` cannot be resumed from, or None if it is intact."""
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, ValueError) as exc:
        return f"meta.json unreadable ({type(exc).__name__})"
    if not (path / "trainer_state.pt").is_file() or not (path / "policy").is_dir():
        return "trainer_state.pt or policy/ missing"
    expected = meta.get("sha256")
    if expected is None:  # written before checksums: trust what is there
        return None
    actual = _checksums(path)
    bad = sorted(name for name in set(expected) | set(actual) if expected.get(name) != actual.get(name))
    return f"checksum mismatch in {', '.join(bad[:3])}" if bad else None


def checkpoint_dir(run_dir: str | Path, iteration: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"iter_{iteration:06d}"


def latest(run_dir: str | Path, quiet: bool = False) -> Path | None:
    """The newest intact checkpoint: the one ``latest`` names if it is intact, else the newest that is.

    Damaged or dangling ones are reported on stderr and skipped; None when no intact checkpoint exists.
    """
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return None
    pointer = root / "latest"
    named = None
    if pointer.is_file():
        try:
            text = pointer.read_text().strip()
        except (OSError, UnicodeDecodeError):
            text = ""
        if POINTER.fullmatch(text):
            named = root / text
        elif text and not quiet:  # e.g. ../../other_run/checkpoints/iter_000010: another run's checkpoint
            print(f"checkpoint pointer {pointer} ignored: {text[:200]!r} is not a checkpoint folder of this run "
                  "(iter_N)", file=sys.stderr)
    candidates = [named] if named is not None else []
    candidates += [p for p in sorted(root.glob("iter_*"), reverse=True)
                   if p.is_dir() and not p.is_symlink() and p != named]
    for path in candidates:
        if path.is_symlink():
            why = "a symbolic link, not a checkpoint folder of this run"
        else:
            why = damage(path) if path.is_dir() else "named by checkpoints/latest but missing"
        if why is None:
            return path
        if not quiet:
            print(f"checkpoint {path} skipped: {why}", file=sys.stderr)
    return None


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


def _prune(root: Path, keep: int, newest: Path) -> None:
    """Keep ``newest`` (just written) and the ``keep - 1`` before it; drop any numbered past it.

    Higher-numbered ones are a continuation the run abandoned (it resumed from an earlier intact
    checkpoint past a damaged one): keeping them would leave ``latest`` pointing at a pruned folder.
    Names are zero-padded, so they sort by iteration.
    """
    done = sorted(p for p in root.glob("iter_*") if p.is_dir())
    later = [p for p in done if p.name > newest.name]
    earlier = [p for p in done if p.name < newest.name]
    for old in later + (earlier[: max(0, len(earlier) - (keep - 1))] if keep > 0 else []):
        shutil.rmtree(old, ignore_errors=True)
