"""Find ALFWorld games in the official folder layout (``json_2.1.1/<split>/<task>/<trial>/``).

The rules are those of alfworld's ``AlfredTWEnv.collect_game_files``: a trial folder holds
``traj_data.json`` and ``game.tw-pddl``; movable-receptacle and sliced tasks are skipped; the task
type must be one of the six; the game must be marked ``solvable``. alfworld's own loader hangs when
a data folder holds no game, so an empty or missing folder raises a clear error here instead.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from environments.alfworld.scenes import TASK_TYPES

DATA_FOLDER = "json_2.1.1"


def split_dir(data_dir: str | os.PathLike, split: str) -> Path:
    """``<data_dir>/json_2.1.1/<split>`` (or ``<data_dir>/<split>``, or ``data_dir`` itself if it is the split)."""
    root = Path(os.path.expanduser(os.path.expandvars(str(data_dir))))
    if not root.is_dir():
        raise FileNotFoundError(f"ALFWorld data folder {str(root)!r} does not exist. Pass data_dir=<folder holding "
                                f"{DATA_FOLDER}/> (what `alfworld-download` fills) or leave data_dir=None to play "
                                "the generated games.")
    for candidate in (root / DATA_FOLDER / split, root / split):
        if candidate.is_dir():
            return candidate
    return root


def _playable(game: Path) -> bool:
    folder = str(game.parent)
    if "movable" in folder or "Sliced" in folder:
        return False
    try:
        with open(game) as f:
            return bool(json.load(f).get("solvable"))
    except (OSError, ValueError):
        return False


@lru_cache(maxsize=8)
def find_games(data_dir: str, split: str) -> dict[str, Path]:
    """Task id (trial folder relative to the split folder) -> ``game.tw-pddl``, sorted by id."""
    base = split_dir(data_dir, split)
    games = {}
    for traj in sorted(base.rglob("traj_data.json")):
        game = traj.parent / "game.tw-pddl"
        task_id = traj.parent.relative_to(base).as_posix()
        if game.is_file() and task_type_of(task_id, traj) in TASK_TYPES and _playable(game):
            games[task_id] = game
    if not games:
        raise FileNotFoundError(
            f"No playable ALFWorld game under {str(base)!r}: expected <task>/<trial>/traj_data.json next to a "
            "game.tw-pddl marked solvable (run `alfworld-download`, or `alfworld-generate` on ALFRED data). "
            "alfworld's own loader would hang here.")
    return games


def task_type_of(task_id: str, traj_path: Path | None = None) -> str:
    """The task type, from the ALFRED folder name (``<type>-<obj>-<mrecep>-<parent>-<scene>``) or traj_data."""
    head = task_id.split("/")[0].split("-")[0]
    if head in TASK_TYPES or traj_path is None:
        return head
    with open(traj_path) as f:
        return json.load(f).get("task_type", "")
