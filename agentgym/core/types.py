"""Data that flows through the rollout-and-update loop (docs/architecture.md, "Contracts").

A ``Step`` is one environment step as the trainer sees it: its own prompt, the sampled response
with token-level statistics, the reward that followed and its identity in the batch. Credit
estimators never see tokens: they work on a columnar ``StepBatch`` (numpy, one row per step).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

Messages = list[dict[str, str]]


@dataclass
class Step:
    """One environment step of one trajectory."""

    group_id: int
    traj_id: int
    t: int
    prompt: Messages
    response: str
    action: str
    reward: float
    state_key: str
    observation: str = ""
    prompt_ids: list[int] = field(default_factory=list)
    response_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    entropies: list[float] = field(default_factory=list)
    action_valid: bool = True  # the environment understood and executed the action
    format_valid: bool = True  # the response contained a parsable <action>...</action>
    terminated: bool = False
    truncated: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    policy_version: int | None = None  # updates the sampling weights had seen (None: not a generation engine's sample)
    rollout_logprobs: list[float] | None = None  # the engine's own log-probs, kept when the trainer rescored the step

    @property
    def entropy(self) -> float:
        """Mean token entropy of the response (NaN if the policy gave none)."""
        return float(np.mean(self.entropies)) if self.entropies else float("nan")

    def record(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "traj_id": self.traj_id,
            "t": self.t,
            "reward": self.reward,
            "state_key": self.state_key,
            "entropy": self.entropy,
            "action_valid": self.action_valid,
            "format_valid": self.format_valid,
        }


@dataclass
class Trajectory:
    """All steps of one episode, plus how it ended."""

    group_id: int
    traj_id: int
    task_id: str
    task_type: str | None = None
    steps: list[Step] = field(default_factory=list)
    task: str | None = None  # the goal text the prompts showed
    final_observation: str = ""  # what the environment said after the last step
    success: bool = False
    score: float = 0.0

    @property
    def env_return(self) -> float:
        return float(sum(s.reward for s in self.steps))

    @property
    def truncated(self) -> bool:
        return bool(self.steps) and self.steps[-1].truncated

    def __len__(self) -> int:
        return len(self.steps)


COLUMNS: dict[str, Any] = {
    "group_id": np.int64,
    "traj_id": np.int64,
    "t": np.int64,
    "reward": np.float64,
    "state_key": object,
    "entropy": np.float64,
}


@dataclass(frozen=True)
class StepBatch:
    """Columnar view of a batch of steps; ``extras`` holds any further per-step columns."""

    group_id: np.ndarray
    traj_id: np.ndarray
    t: np.ndarray
    reward: np.ndarray
    state_key: np.ndarray
    entropy: np.ndarray
    extras: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.group_id)
        for name in COLUMNS:
            column = getattr(self, name)
            if column.ndim != 1 or len(column) != n:
                raise ValueError(f"StepBatch column {name!r} has shape {column.shape}, expected ({n},)")
        for name, column in self.extras.items():
            if len(column) != n:
                raise ValueError(f"StepBatch extra column {name!r} has length {len(column)}, expected {n}")

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> StepBatch:
        """Build from dicts with the six column keys; other keys become ``extras``.

        ``entropy`` may be missing (NaN). Rows keep their order.
        """
        records = list(records)
        columns = {}
        for name, dtype in COLUMNS.items():
            default = float("nan") if name == "entropy" else None
            values = [r.get(name, default) for r in records]
            if any(v is None for v in values):
                raise KeyError(f"every record needs a {name!r} value")
            columns[name] = _array(values, dtype)
        extra_names = sorted({k for r in records for k in r} - set(COLUMNS))
        extras = {k: np.asarray([r.get(k) for r in records]) for k in extra_names}
        return cls(**columns, extras=extras)

    @classmethod
    def from_trajectories(cls, trajectories: Iterable[Trajectory]) -> StepBatch:
        return cls.from_records(s.record() for traj in trajectories for s in traj.steps)

    def __len__(self) -> int:
        return len(self.group_id)

    def with_reward(self, reward: np.ndarray) -> StepBatch:
        """A copy with a new reward column (what reward shapers return)."""
        reward = np.asarray(reward, dtype=np.float64)
        if reward.shape != self.reward.shape:
            raise ValueError(f"reward has shape {reward.shape}, expected {self.reward.shape}")
        return replace(self, reward=reward)

    def subset(self, rows: np.ndarray) -> StepBatch:
        """The rows selected by a boolean mask or index array, every column alike."""
        columns = {name: getattr(self, name)[rows] for name in COLUMNS}
        return StepBatch(**columns, extras={k: v[rows] for k, v in self.extras.items()})

    def with_extras(self, **columns: Any) -> StepBatch:
        """A copy with more (or replaced) extra columns."""
        return replace(self, extras={**self.extras, **{k: np.asarray(v) for k, v in columns.items()}})

    def flag(self, name: str) -> np.ndarray:
        """A boolean extra column such as ``action_valid``; a missing column or a None value reads True."""
        if name not in self.extras:
            return np.ones(len(self), dtype=bool)
        return np.array([True if v is None else bool(v) for v in self.extras[name]], dtype=bool)

    def trajectory_returns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(traj ids, their group ids, their returns), one entry per trajectory, sorted by traj id."""
        traj_ids, inverse = np.unique(self.traj_id, return_inverse=True)
        returns = np.bincount(inverse, weights=self.reward, minlength=len(traj_ids))
        groups = np.zeros(len(traj_ids), dtype=np.int64)
        groups[inverse] = self.group_id
        return traj_ids, groups, returns

    def step_returns(self) -> np.ndarray:
        """Each step's trajectory return R(tau), broadcast to the step's row."""
        _, inverse = np.unique(self.traj_id, return_inverse=True)
        returns = np.bincount(inverse, weights=self.reward)
        return returns[inverse]


def state_key_text(value: Any) -> str:
    """The anchor key of a state as text, equal exactly when the full values are equal.

    Strings pass unchanged. ``str()`` of a large numpy array prints a summary (``...``), so two different
    40x40 observations would share a key; arrays (and anything with ``__array__``) are keyed by dtype,
    shape and a BLAKE2b digest of their bytes, sequences and mappings element by element, as verl-agent's
    ``to_hashable`` keys the full value.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float, np.generic)):
        return repr(value.item() if isinstance(value, np.generic) else value)
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_element_text(v) for v in value) + ")"
    if isinstance(value, Mapping):
        items = sorted((_element_text(k), _element_text(v)) for k, v in value.items())
        return "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"
    if isinstance(value, np.ndarray) or hasattr(value, "__array__"):
        array = np.ascontiguousarray(np.asarray(value))
        if array.dtype == object:
            return "array" + state_key_text(array.tolist())
        digest = hashlib.blake2b(array.tobytes(), digest_size=16).hexdigest()
        return f"array<{array.dtype.str}{list(array.shape)}>:{digest}"
    return str(value)


def _element_text(value: Any) -> str:
    """An element inside a sequence or mapping: strings quoted, so "1" and 1 stay apart."""
    return repr(value) if isinstance(value, str) else state_key_text(value)


def _array(values: list[Any], dtype: Any) -> np.ndarray:
    if dtype is object:
        out = np.empty(len(values), dtype=object)
        out[:] = [state_key_text(v) for v in values]
        return out
    return np.asarray(values, dtype=dtype).reshape(len(values))
