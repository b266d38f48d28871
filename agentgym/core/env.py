"""Base class for multi-turn text environments (the contract in docs/architecture.md, "Contracts").

An environment author implements five small methods: which tasks a split holds, how to load one,
the first observation, how an action changes the game, and the per-state info (state key, expert,
admissible actions). The base class handles seeding, task selection, the step limit
(``truncated``), robustness to arbitrary action strings, and fills every ``info`` key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium

from agentgym.core.lazy_info import LazyInfo
from agentgym.core.spaces import FreeText

SPLITS = ("train", "valid_seen", "valid_unseen")  # train | held-out same distribution | held-out shifted

INFO_KEYS = (
    "task",
    "task_id",
    "task_type",
    "admissible_actions",
    "state_key",
    "expert_action",
    "expert_steps_left",
    "success",
    "action_valid",
    "score",
)
# Keys an environment gives where it can (None otherwise); check_env does not require them, so an environment
# written before them still passes. ``answer``: the task's gold answer (IGPO's belief reads it).
OPTIONAL_INFO_KEYS = ("answer",)
MAX_ACTION_CHARS = 100_000
DEFAULT_MAX_OBSERVATION_CHARS = 32_000  # longer observations are cut by the env pool (agentgym.util.text_cut)


class TasksNotListed(RuntimeError):
    """The environment cannot list a split's tasks (an OpenEnv server without the task API). It can be
    trained on by reset seeds, but a held-out evaluation, which plays named tasks, cannot be made on it."""


@dataclass
class Outcome:
    """What one action did to the game."""

    observation: str
    reward: float = 0.0
    terminated: bool = False
    success: bool = False
    action_valid: bool = True
    score: float | None = None


class TextEnv(gymnasium.Env[str, str]):
    """A gymnasium environment whose observations and actions are text.

    Subclasses implement ``task_ids``, ``load_task``, ``first_observation``, ``apply`` and
    ``state_info``; they may set ``has_expert`` / ``has_admissible_actions`` for the env table, and
    ``prompt_history_len``: how many past steps a prompt should show by default (0 for a fully
    observed environment, whose observation already holds everything a decision needs),
    ``prompt_intro``: one or two sentences on what the agent is and does here, opening the system
    prompt of the ``instruct`` prompt style (agentgym.rollout.prompts),
    ``max_observation_chars``: the longest observation the env pool passes on uncut, and
    ``pool_backend``: the env-pool backend a run uses unless it says otherwise (``process`` for
    engines that step under a process-wide lock, ``thread`` for cheap or I/O-bound ones), and
    ``concurrent_steps``: False when steps hold a process-wide lock, so a pool worker steps its
    environments on one thread instead of many threads waiting for the lock.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi", "human"]}
    has_expert = True
    has_admissible_actions = True
    default_max_steps = 50
    prompt_history_len = 2
    prompt_intro = ""
    max_observation_chars = DEFAULT_MAX_OBSERVATION_CHARS
    pool_backend = "thread"
    concurrent_steps = True

    def __init__(self, split: str = "train", max_steps: int | None = None, render_mode: str | None = None):
        if split not in SPLITS:
            raise ValueError(f"Unknown split {split!r}; choose one of {SPLITS}.")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.split = split
        self.max_steps = int(max_steps or self.default_max_steps)
        self.render_mode = render_mode
        self.observation_space = FreeText(MAX_ACTION_CHARS)
        self.action_space = FreeText(MAX_ACTION_CHARS)
        self.task_id: str | None = None
        self.steps_taken = 0
        self.last_observation = ""
        self._done = False

    # ---- to implement -------------------------------------------------------------------------
    def task_ids(self) -> Sequence[str]:
        """The split's task ids, in a fixed order (cheap: no game generation here)."""
        raise NotImplementedError

    def load_task(self, task_id: str) -> None:
        """Set up the game of ``task_id`` (deterministic given the id and ``self.np_random``)."""
        raise NotImplementedError

    def first_observation(self) -> str:
        raise NotImplementedError

    def apply(self, action: str) -> Outcome:
        """Play one already-sanitised action; must not raise on unusable text."""
        raise NotImplementedError

    def state_info(self) -> dict[str, Any]:
        """``task``, ``task_type``, ``admissible_actions``, ``state_key``, ``expert_action``,
        ``expert_steps_left`` and ``answer`` (the task's gold answer, where the environment knows one; it
        is never shown to the policy) for the current state (missing keys become None). A value that is
        expensive and often unread (the expert's) may be an ``agentgym.core.lazy_info.Deferred``, computed
        when read; it must compute the value of this state, not of whatever state the env is in then."""
        raise NotImplementedError

    # ---- gymnasium API ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        options = options or {}
        ids = self.task_ids()
        if not ids:
            raise RuntimeError(f"{type(self).__name__} has no tasks in split {self.split!r}.")
        if "task_id" in options:
            task_id = str(options["task_id"])
            if not self._is_task(task_id, ids):
                raise ValueError(f"Task {task_id!r} is not in split {self.split!r}.")
        else:
            task_id = ids[int(self.np_random.integers(len(ids)))]
        self.task_id = task_id
        self.steps_taken = 0
        self._done = False
        self.load_task(task_id)
        self.last_observation = self.first_observation()
        info = self._info(success=False, action_valid=True, score=0.0)
        return self.last_observation, info

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict]:
        if self.task_id is None:
            raise gymnasium.error.ResetNeeded("Call reset() before step().")
        if self._done:
            outcome = Outcome("The episode is over; call reset() to start a new one.", action_valid=False)
        else:
            text, problem = sanitise_action(action)
            outcome = Outcome(problem, action_valid=False) if problem else self.apply(text)
        self.steps_taken += 1
        terminated = bool(outcome.terminated)
        truncated = not terminated and self.steps_taken >= self.max_steps
        self._done = self._done or terminated or truncated
        score = outcome.score if outcome.score is not None else float(outcome.success)
        info = self._info(success=bool(outcome.success), action_valid=bool(outcome.action_valid), score=score)
        self.last_observation = outcome.observation
        return outcome.observation, float(outcome.reward), terminated, truncated, info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self.last_observation
        if self.render_mode == "human":
            print(self.last_observation)
        return None

    # ---- helpers ------------------------------------------------------------------------------
    def _info(self, **step_fields: Any) -> dict[str, Any]:
        # Deferred values from state_info are computed when read
        info = LazyInfo.fromkeys((*INFO_KEYS, *OPTIONAL_INFO_KEYS))
        info.update(self.state_info())
        info["task_id"] = self.task_id
        info.update(step_fields)
        return info

    def _is_task(self, task_id: str, ids: Sequence[str]) -> bool:
        """Membership test with the id set cached while ``task_ids()`` returns the same object."""
        if getattr(self, "_id_set_of", None) is not ids:
            self._id_set, self._id_set_of = set(ids), ids
        return task_id in self._id_set

    def num_tasks(self) -> int:
        return len(self.task_ids())


def sanitise_action(action: Any) -> tuple[str, str | None]:
    """Return (text, problem): ``problem`` is an explanatory observation for unusable input."""
    if isinstance(action, bytes):
        action = action.decode("utf-8", errors="replace")
    if not isinstance(action, str):
        return "", f"Actions must be text, got {type(action).__name__}. Nothing happened."
    if len(action) > MAX_ACTION_CHARS:
        return "", f"That action is {len(action)} characters long (limit {MAX_ACTION_CHARS}). Nothing happened."
    cleaned = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in action).strip()
    if not cleaned:
        return "", "The action was empty. Nothing happened."
    return cleaned, None
