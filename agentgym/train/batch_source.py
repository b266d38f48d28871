"""Where the loop's batches come from: one interface, built once per run, never asked which it is.

``SyncRollouts`` (``max_staleness = 0``) collects each batch when the loop asks for it, with the
current weights; ``AsyncRollouts`` (``max_staleness > 0``) collects the next batches in the
background while the loop updates (``agentgym.inference.producer``). Both live in
``agentgym.train.batches``; ``make_batch_source`` there picks one from the config.
"""

from __future__ import annotations

from typing import Any, Protocol

from agentgym.core.types import Trajectory
from agentgym.rollout.collect import RolloutStats


class BatchSource(Protocol):
    def next(self, trainer: Any) -> tuple[list[Trajectory], RolloutStats, dict[str, float]]:
        """The batch update ``trainer.iteration`` trains on (within the staleness bound, rescored by
        the trained model where another engine sampled it), its stats, and the engine's metrics."""
        ...

    def publish(self, trainer: Any, version: int) -> dict[str, float]:
        """The trained weights after update ``version``: where the next batches are sampled with them."""
        ...

    def task_rng_state(self, trainer: Any) -> dict[str, Any]:
        """The task sampler's state before the next batch to train on drew its tasks (what a checkpoint
        holds, so a resumed run samples that batch again)."""
        ...

    def close(self) -> None: ...
