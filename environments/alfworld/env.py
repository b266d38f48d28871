"""``agentgym/ALFWorld-v0``: ALFWorld's household tasks on ALFWorld's own text engine."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentgym.core.env import Outcome, TextEnv
from agentgym.core.lazy_info import Deferred
from environments.alfworld.engine import ENGINE_LOCK, make_engine, memoized_translation
from environments.alfworld.gamefiles import ensure_game
from environments.alfworld.official import find_games, task_type_of
from environments.alfworld.oracle import oracle_plan
from environments.alfworld.scenes import TASK_TYPES
from environments.alfworld.splits import split_task_ids
from environments.alfworld.world import World

EXPERTS = ("oracle", "planner", "handcoded", None)
ANCHORS = ("state", "observation")
INVALID_FEEDBACK = "Nothing happens."  # what ALFWorld answers to a command it does not know


def normalise_command(action: str) -> str:
    """Lower case, single spaces, no trailing full stop: "Go to  Cabinet 1." -> "go to cabinet 1"."""
    return re.sub(r"\s+", " ", action).strip().rstrip(".").strip().lower()


class ALFWorldEnv(TextEnv):
    """
    ## Description
    ALFWorld (Shridhar et al., 2021): text versions of ALFRED household tasks. The agent moves
    between receptacles of a kitchen, living room, bedroom or bathroom, opens them, takes and
    places objects, and heats, cools, cleans or lights them to reach a goal such as "put a hot
    apple in fridge". Games are PDDL problems played by alfworld's own engine (textworld's
    ``PddlEnv`` under alfworld's ``AlfredDemangler``/``AlfredInfos``/``AlfredExpert`` wrappers).
    By default the games are generated from the floor plans alfworld ships (see ``generate.py``);
    ``data_dir`` plays official ALFWorld games instead.

    ## Observation
    ALFWorld's text: the first observation lists the receptacles and ends with "Your task is to:
    ...". After an action, the engine's feedback ("You arrive at fridge 1. The fridge 1 is
    closed.").

    ## Actions
    ALFWorld commands: ``go to X``, ``open X``, ``close X``, ``take O from X``, ``move O to X``,
    ``heat/cool/clean O with X``, ``use O``, ``examine X``, ``look``, ``inventory``, ``help``.
    Case, extra spaces and a trailing full stop are ignored. A command that is not admissible
    gets ALFWorld's "Nothing happens." with ``action_valid=False``; the game state is unchanged.

    ## Rewards
    1.0 on the step that wins the game, 0 otherwise.

    ## Starting State
    The agent stands in the middle of the room; openable receptacles are closed.

    ## Episode End
    Terminated when the goal holds (success); truncated after ``max_steps`` (50).

    ## Splits
    Generated: the official ALFWorld sizes and per-type counts (3,553 train, 140 valid_seen,
    134 valid_unseen). train and valid_seen sample ALFRED's training floor plans with disjoint
    seeds; valid_unseen uses ALFRED's test floor plans. With ``data_dir``: the games found under
    ``<data_dir>/json_2.1.1/<split>``.

    ## Arguments
    ``split``; ``max_steps`` (50); ``data_dir`` (None: generated games; a path or "$ALFWORLD_DATA"
    for official games); ``num_tasks`` (a prefix of the split); ``task_types`` (subset of the six
    names); ``expert``: "oracle" (exact shortest plan from the game facts, default), "planner"
    (alfworld's Fast Downward expert, slow), "handcoded" (alfworld's heuristic expert, no
    ``expert_steps_left``) or None; ``anchor``: "state" (``state_key`` from the engine's facts,
    default) or "observation" (the observation text, as verl-agent's GiGPO does).

    ## Version History
    * v0: initial version.
    """

    prompt_intro = (
        "You are a household robot in a simulated home (ALFWorld): you go to furniture and appliances and "
        "take, put, open, heat, cool, clean or examine objects to complete a household task."
    )
    pool_backend = "process"  # the engine steps under textworld's process-wide lock: one core per process
    concurrent_steps = False  # so a pool worker steps them on one thread, not many waiting for the lock

    def __init__(self, split: str = "train", max_steps: int | None = None, data_dir: str | None = None,
                 num_tasks: int | None = None, task_types: Sequence[str] | None = None,
                 expert: str | None = "oracle", anchor: str = "state", render_mode: str | None = None):
        super().__init__(split=split, max_steps=max_steps, render_mode=render_mode)
        if expert not in EXPERTS:
            raise ValueError(f"expert must be one of {EXPERTS}, got {expert!r}")
        if anchor not in ANCHORS:
            raise ValueError(f"anchor must be one of {ANCHORS}, got {anchor!r}")
        unknown = set(task_types or ()) - set(TASK_TYPES)
        if unknown:
            raise ValueError(f"Unknown task types {sorted(unknown)}; choose from {TASK_TYPES}")
        self.data_dir, self.expert, self.anchor = data_dir, expert, anchor
        self.task_types = tuple(task_types or TASK_TYPES)
        self._task_limit = num_tasks  # not self.num_tasks: that is TextEnv.num_tasks(), the count
        self._ids: tuple[str, ...] | None = None
        self._engine = None
        self._loaded_game: Path | None = None
        self._state = None
        self._traj: dict[str, Any] = {}
        self._world: World | None = None
        self._observation = ""
        self._task_text = ""

    # ---- tasks -------------------------------------------------------------------------------
    def task_ids(self) -> Sequence[str]:
        if self._ids is None:
            if self.data_dir is None:
                official = len(split_task_ids(self.split))
                ids = split_task_ids(self.split, self._task_limit if (self._task_limit or 0) > official else None)
            else:
                ids = tuple(find_games(str(self.data_dir), self.split))
            ids = tuple(i for i in ids if task_type_of(i) in self.task_types)
            self._ids = ids[: self._task_limit] if self._task_limit is not None else ids
        return self._ids

    def game_path(self, task_id: str) -> Path:
        if self.data_dir is None:
            return ensure_game(self.split, task_id)
        return find_games(str(self.data_dir), self.split)[task_id]

    def load_task(self, task_id: str) -> None:
        with ENGINE_LOCK:
            self._load_task(task_id)

    def _load_task(self, task_id: str) -> None:
        path = self.game_path(task_id)
        if self._engine is None:
            self._engine = make_engine(self.expert if self.expert in ("planner", "handcoded") else None)
        with memoized_translation():
            if path != self._loaded_game:
                self._engine.load(str(path))
                self._loaded_game = path
                with open(path.parent / "traj_data.json") as f:
                    self._traj = json.load(f)
            self._state = self._engine.reset()
        self._world = None
        self._observation = str(self._state.feedback)
        match = re.search(r"Your task is to: (.*)", self._observation)
        self._task_text = match.group(1).strip() if match else ""

    def first_observation(self) -> str:
        return self._observation

    # ---- dynamics ----------------------------------------------------------------------------
    def apply(self, action: str) -> Outcome:
        command = normalise_command(action)
        if command not in self._state["admissible_commands"]:
            self._observation = INVALID_FEEDBACK
            return Outcome(INVALID_FEEDBACK, action_valid=False)
        with ENGINE_LOCK:
            self._state, _, _ = self._engine.step(command)
        self._world = None
        self._observation = str(self._state.feedback)
        won = bool(self._state["won"])
        return Outcome(self._observation, reward=float(won), terminated=won, success=won)

    # ---- info --------------------------------------------------------------------------------
    @property
    def task_type(self) -> str:
        return str(self._traj.get("task_type", ""))

    def world(self) -> World:
        """The current game state read from the engine's facts (parsed once per state)."""
        if self._world is None:
            self._world = World.from_engine_state(self._state)
        return self._world

    def _plan_of(self, state, world: World | None, task_type: str, params: dict[str, Any]) -> list[str] | None:
        """The expert's remaining commands from ``state`` ([] when won; None if it has none; ``world``: its
        facts, if parsed). Reads nothing else of ``self`` but the expert's kind, so a deferred call after
        the env moved on still plans for that state."""
        if state["won"]:
            return []
        if self.expert == "planner":
            return list(state.get("extra.expert_plan") or []) or None
        if self.expert == "handcoded":
            plan = state.get("extra.expert_plan") or []
            return list(plan[:1]) or None
        if self.expert is None:
            return None
        return oracle_plan(world or World.from_engine_state(state), task_type, params.get("object_target", ""),
                           params.get("parent_target", ""), params.get("toggle_target", ""))

    def state_info(self) -> dict[str, Any]:
        key = self._observation if self.anchor == "observation" else self.world().state_key()
        # the oracle's search runs only when an expert field is read, on this state (captured here)
        plan = Deferred(functools.partial(self._plan_of, self._state, self._world, self.task_type,
                                          self._traj.get("pddl_params", {})))
        counts_steps = self.expert != "handcoded"
        return {
            "task": self._task_text,
            "task_type": self.task_type,
            "admissible_actions": list(self._state["admissible_commands"]),
            "state_key": key,
            "expert_action": Deferred(lambda: (plan.value() or [None])[0]),
            "expert_steps_left": Deferred(lambda: len(p) if (p := plan.value()) is not None and counts_steps
                                          else None),
        }
