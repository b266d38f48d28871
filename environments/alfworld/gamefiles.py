"""Generate, check and cache one game per task id, in ALFWorld's official folder layout.

``ensure_game(split, task_id)`` returns the path of ``json_2.1.1/<split>/<task>/<trial>/game.tw-pddl``
under ``agentgym.util.paths.cache_dir("alfworld", "generated-<version>")``, generating it on first use.
A game is kept only if it is solved when played: the oracle plans from the engine's start state and
its plan is executed operator by operator on the engine's PDDL state until the goal holds
(``playcheck.py``); ``check="planner"`` asks alfworld's Fast Downward planner instead (slower). The
plan is stored as the game's ``walkthrough`` and ``solvable`` is set, as ``alfworld-generate``
does. A rejected sample is recorded as unsolvable and the next sample of the same seed is tried,
so the game behind a task id never changes.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from agentgym.util.paths import cache_dir
from environments.alfworld.engine import make_engine, memoized_translation
from environments.alfworld.pddl_problem import game_json, task_folder, traj_data
from environments.alfworld.playcheck import play_plan
from environments.alfworld.sampler import sample_task
from environments.alfworld.scenes import load_scene
from environments.alfworld.splits import parse_task_id

GENERATOR_VERSION = "v0"
DATA_FOLDER = "json_2.1.1"
MAX_ATTEMPTS = 20


def generated_root() -> Path:
    """Root of the generated data (the folder an official ``$ALFWORLD_DATA`` would be)."""
    return cache_dir("alfworld", f"generated-{GENERATOR_VERSION}")


def _write_json(path: Path, data: dict) -> None:
    """Write atomically, so concurrent workers never read half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def planner_walkthrough(game_path: Path) -> list[str] | None:
    """The planner's plan from the start state through alfworld's engine, or None if there is none."""
    engine = make_engine("planner")
    try:
        with memoized_translation():
            engine.load(str(game_path))
            state = engine.reset()
    except Exception:  # noqa: BLE001 - an engine error means the game is unusable, not a crash
        return None
    plan = list(state.get("extra.expert_plan") or [])
    return plan if plan and not state["won"] else None


def _read_solvable(game_path: Path) -> bool | None:
    try:
        with open(game_path) as f:
            return json.load(f).get("solvable")
    except (OSError, ValueError):
        return None


def ensure_game(split: str, task_id: str, root: Path | None = None, check: str = "play") -> Path:
    """Path of the (possibly just generated) planner-solvable game of ``task_id``."""
    task_type, scene_number, seed = parse_task_id(task_id)
    root = root or generated_root()
    scene = load_scene(scene_number)
    rng = np.random.default_rng(seed)
    for attempt in range(MAX_ATTEMPTS):
        spec = sample_task(scene, task_type, rng)
        if spec is None:
            continue
        trial = f"trial_{seed:07d}_{attempt}"
        folder = root / DATA_FOLDER / split / task_folder(spec) / trial
        game_path = folder / "game.tw-pddl"
        solvable = _read_solvable(game_path)
        if solvable is None:
            _write_json(folder / "traj_data.json", traj_data(spec, task_id, trial))
            game = game_json(spec, f"{task_folder(spec)}_{trial}")
            _write_json(game_path, game)
            if check == "planner":
                plan = planner_walkthrough(game_path)
            else:
                plan = play_plan(game["pddl_domain"], game["pddl_problem"], traj_data(spec, task_id, trial))
            game.update(solvable=plan is not None, walkthrough=plan)
            _write_json(game_path, game)
            solvable = plan is not None
        if solvable:
            return game_path
    raise RuntimeError(f"No solvable ALFWorld game for {task_id!r} after {MAX_ATTEMPTS} samples.")
