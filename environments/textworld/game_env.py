"""Play a TextWorld game file behind the text-environment contract.

textworld's environments return ``(game_state, score, done)``; this base class turns that into
gymnasium's five-tuple and fills the contract's info keys from what textworld already tracks:
admissible commands, the score and max score (task score and reward), the logical facts (state
key), and ``won``/``lost`` (terminated, success). The planner's policy (expert action and oracle
progress) is computed only when an info reads it (``expert_tracker``), not on every step.
Subclasses only say which game file a task id is.
"""

from __future__ import annotations

import warnings
from typing import Any

from agentgym.core.env import Outcome, TextEnv
from agentgym.core.lazy_info import Deferred
from environments.textworld import internals
from environments.textworld.expert_tracker import ExpertTracker, state_tracking
from environments.textworld.lock import TEXTWORLD_LOCK
from environments.textworld.state import fact_set, state_key
from environments.textworld.text import clean_feedback, to_command
from environments.textworld.valid_actions_cache import ValidActionsTable, install

REWARD_MODES = ("score", "success")
NO_GOAL = "Explore the game and find out how to win it."


def start_game(path: str, infos: Any) -> Any:
    """``textworld.start`` without jericho's "not fully supported" warning (textworld tracks the score itself)."""
    import textworld

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return textworld.start(str(path), infos)


def default_step_limit(plan_length: int) -> int:
    """Steps an episode gets unless ``max_steps`` is given: max(50, 2 x the expert's plan at the start)."""
    return max(TextWorldEnv.default_max_steps, 2 * plan_length)


def request_infos(policy_commands: bool = False) -> Any:
    """The textworld infos the contract needs; ``policy_commands=True`` has textworld plan on every step
    (what the environment did before ``ExpertTracker``; ``TextWorldEnv.eager_planner`` asks for it)."""
    from textworld import EnvInfos

    return EnvInfos(admissible_commands=True, policy_commands=policy_commands, facts=True, won=True, lost=True,
                    score=True, max_score=True, objective=True, moves=True)


class TextWorldEnv(TextEnv):
    """Base of every TextWorld environment; subclasses implement ``task_ids``, ``game_file`` and
    ``task_type_of``."""

    prompt_intro = (
        "You are the player of a text adventure game: you move between rooms and take, open, use and put "
        "objects until the goal of the game is reached."
    )
    default_max_steps = 50
    pool_backend = "process"  # textworld steps under one process-wide lock (lock.py): one core per process
    concurrent_steps = False  # so a pool worker steps them on one thread, not many waiting for the lock
    eager_planner = False  # True: textworld plans on every step, as before ExpertTracker (for comparisons)

    def __init__(self, split: str = "train", max_steps: int | None = None, free_form: bool = False,
                 reward: str = "score", render_mode: str | None = None):
        super().__init__(split=split, max_steps=max_steps, render_mode=render_mode)
        if reward not in REWARD_MODES:
            raise ValueError(f"reward must be one of {REWARD_MODES}, got {reward!r}")
        self.free_form = bool(free_form)
        self.has_admissible_actions = not self.free_form
        self.reward_mode = reward
        self._fixed_max_steps = max_steps
        self._game: Any = None
        self._game_path: str | None = None
        self._state: Any = None
        self._tracker: ExpertTracker | None = None
        self.valid_actions: ValidActionsTable | None = None  # this game's, while the caches are on (see there)
        self._initial_facts: frozenset[str] = frozenset()
        self._task_type = ""

    # ---- for subclasses -----------------------------------------------------------------------
    def game_file(self, task_id: str) -> str:
        """Path of the ``.z8`` game of ``task_id`` (generating it if needed)."""
        raise NotImplementedError

    def task_type_of(self, task_id: str) -> str:
        raise NotImplementedError

    # ---- TextEnv ------------------------------------------------------------------------------
    def load_task(self, task_id: str) -> None:
        with TEXTWORLD_LOCK:  # generation and textworld's game parser are not thread-safe (see lock.py)
            self._load_task(task_id)

    def _load_task(self, task_id: str) -> None:
        path = str(self.game_file(task_id))
        if path != self._game_path:
            self.close()
            self._game = start_game(path, request_infos(policy_commands=self.eager_planner))
            self._game_path = path
            self.valid_actions = ValidActionsTable() if internals.supported()[0] else None
        self._task_type = self.task_type_of(task_id)
        self._state = self._game.reset()
        self._tracker = ExpertTracker.attach(self._game)  # a new one per episode: old infos keep theirs
        tracking = state_tracking(self._game)
        if self.valid_actions is not None and tracking is not None and tracking._game_progression is not None:
            install(tracking._game_progression, self.valid_actions)  # the new episode's progression
        self._initial_facts = fact_set(self._state["facts"])
        if not self._fixed_max_steps:  # the default limit needs the plan's length: planned once, at reset
            self.max_steps = default_step_limit(len(self._plan_now()))
        else:
            self.max_steps = int(self._fixed_max_steps)

    def first_observation(self) -> str:
        return clean_feedback(self._state.feedback)

    def apply(self, action: str) -> Outcome:
        command, problem = to_command(action)
        if problem:
            return Outcome(problem, action_valid=False)
        before = self._state
        try:
            with TEXTWORLD_LOCK:
                self._state, _, _ = self._game.step(command)
        except Exception as exc:  # noqa: BLE001 - the interpreter must not take the episode down
            self._state = before
            return Outcome(f"The game could not process {command[:80]!r} ({type(exc).__name__}). Nothing happened.",
                           action_valid=False)
        admissible = {a.lower() for a in before["admissible_commands"] or ()}
        acted = (self._state["moves"] or 0) > (before["moves"] or 0)
        won, lost = bool(self._state["won"]), bool(self._state["lost"])
        return Outcome(clean_feedback(self._state.feedback), reward=self._reward(before), terminated=won or lost,
                       success=won, action_valid=command in admissible or acted, score=self._score())

    def state_info(self) -> dict[str, Any]:
        if self._state is None:
            return {}
        won, lost = bool(self._state["won"]), bool(self._state["lost"])
        plan = Deferred(self._planner_at_this_state())
        return {
            "task": (self._state["objective"] or "").strip() or NO_GOAL,
            "task_type": self._task_type,
            "admissible_actions": None if self.free_form else list(self._state["admissible_commands"] or ()),
            "state_key": state_key(self._initial_facts, fact_set(self._state["facts"]), self._state["score"] or 0),
            "expert_action": Deferred(lambda: None if won or lost or not plan.value() else plan.value()[0]),
            "expert_steps_left": Deferred(lambda: 0 if won else None if lost or not plan.value() else len(plan.value())),
        }

    def _planner_at_this_state(self):
        """A function giving the planner's commands from the current state, whenever it is called."""
        tracker = self._tracker
        if tracker is None:
            return list
        n_actions = len(tracker.actions)
        return lambda: list(tracker.plan_after(n_actions))

    def _plan_now(self) -> list[str]:
        return self._planner_at_this_state()()

    # ---- helpers ------------------------------------------------------------------------------
    def _score(self) -> float:
        """Task score in [0, 1]: textworld's score over its max score (1.0 once won)."""
        if self._state["won"]:
            return 1.0
        max_score = self._state["max_score"] or 0
        return min(1.0, max(0.0, (self._state["score"] or 0) / max_score)) if max_score > 0 else 0.0

    def _reward(self, before: Any) -> float:
        if self.reward_mode == "success":
            return 1.0 if self._state["won"] else 0.0
        max_score = self._state["max_score"] or 0
        if max_score <= 0:
            return 1.0 if self._state["won"] else 0.0
        return ((self._state["score"] or 0) - (before["score"] or 0)) / max_score

    def close(self) -> None:
        if self._game is not None:
            with TEXTWORLD_LOCK:
                self._game.close()
        self._game = None
        self._game_path = None
        self.valid_actions = None
