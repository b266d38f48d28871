"""Gold action sequences on disk: the simulator's gold agent plays the whole task at load time (up to
tens of seconds for the genetics tasks), and with the deterministic JVM its sequence is a pure function
of (scienceworld version, task type, variation), so it is computed once per task and kept under
``$AGENTGYM_CACHE/scienceworld/gold-<version>/``."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from agentgym.util.paths import cache_dir


def gold_folder() -> Path:
    from scienceworld.version import __version__

    return cache_dir("scienceworld", f"gold-{__version__}")


def read_gold(task_id: str) -> list[str] | None:
    path = gold_folder() / f"{task_id}.json"
    try:
        return list(json.loads(path.read_text())["gold"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent or damaged: computed again


def write_gold(task_id: str, gold: list[str]) -> None:
    """Written under a temporary name, then renamed: a reader never sees half a file."""
    folder = gold_folder()
    with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False) as f:
        json.dump({"task_id": task_id, "gold": gold}, f)
    os.replace(f.name, folder / f"{task_id}.json")
