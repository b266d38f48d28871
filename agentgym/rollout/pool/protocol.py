"""The contract every environment pool backend meets (thread, process, ray).

A pool holds a fixed set of environments addressed by index 0..len-1. ``reset`` and ``step`` take
parallel lists (indices and their reset kwargs or actions) and return one result per index, in
order: the gymnasium tuple, or an ``EnvFailure`` when the environment, its thread or its worker
failed. A pool never raises for one environment's fault and never returns a reward for it: the
rollout drops that episode (docs/rollout.md, "Fault model").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

FAILURE_KINDS = ("error", "timeout", "worker_died")
ResetResult = tuple[str, dict[str, Any]]
StepResult = tuple[str, float, bool, bool, dict[str, Any]]


@dataclass(frozen=True)
class EnvFailure:
    """Why an environment gave no result: ``error`` (reset/step raised), ``timeout`` (it ran past its
    limit), ``worker_died`` (the process or actor holding it exited)."""

    kind: str
    message: str
    traceback: str = ""

    def __post_init__(self) -> None:
        if self.kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {self.kind!r}; one of {FAILURE_KINDS}")


@dataclass(frozen=True)
class HostSpec:
    """What a worker needs to build its environments itself: ids and kwargs, never env objects."""

    env_id: str
    split: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    step_timeout_s: float | None = 120.0
    reset_timeout_s: float | None = 600.0
    max_observation_chars: int | None = None  # None = the environment class's own limit


@runtime_checkable
class EnvPool(Protocol):
    env_id: str

    def __len__(self) -> int: ...

    def reset(self, indices: Sequence[int], resets: Sequence[dict[str, Any]],
              info_keys: Sequence[str] = ()) -> list[ResetResult | EnvFailure]:
        """``env[i].reset(**kwargs)`` for each pair; ``info_keys``: deferred info values to compute."""
        ...

    def step(self, indices: Sequence[int], actions: Sequence[str],
             info_keys: Sequence[str] = ()) -> list[StepResult | EnvFailure]: ...

    def task_ids(self) -> list[str]:
        """The split's task ids in their fixed order."""
        ...

    @property
    def worker_restarts(self) -> int:
        """Workers (processes, actors) replaced after dying or hanging, since the pool started."""
        ...

    def close(self) -> None: ...
