"""The progress estimator's life inside a training run (SPA-RL's pipeline, in the shared loop).

Before RL: exploration rollouts of the starting policy are collected and the estimator is fitted on
them. Every iteration: each step of the new batch gets its contribution c_t (the ``progress``
column the ``progress`` shaper reads), the batch is checked against oracle progress where the
environment has an expert (before the estimator has seen it), and its trajectories join a bounded
buffer. Every ``refresh_every`` iterations the estimator is refitted on that buffer. The estimator
and its buffer are part of the trainer's checkpoint, so a resumed run continues exactly.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from agentgym.types import Trajectory
from rewards.progress import ProgressEstimator, ProgressSettings
from rewards.progress_oracle import oracle_correlation


def _step_ids(traj: Trajectory) -> list[tuple[list[int], list[int]]]:
    return [(list(s.prompt_ids), list(s.response_ids)) for s in traj.steps]


class ProgressAttribution:
    def __init__(self, estimator: ProgressEstimator, refresh_every: int, buffer_size: int, save_dir: Path):
        self.estimator = estimator
        self.refresh_every = refresh_every
        self.buffer: deque[tuple[list[tuple[list[int], list[int]]], float]] = deque(maxlen=buffer_size)
        self.save_dir = Path(save_dir)
        self.fitted = False

    @classmethod
    def build(cls, encoder: str, policy, model_path: str, params: dict[str, Any], refresh_every: int,
              buffer_size: int, run_dir: str | Path) -> ProgressAttribution:
        estimator = ProgressEstimator.build(encoder, policy, model_path, ProgressSettings(**params))
        return cls(estimator, refresh_every, buffer_size, Path(run_dir) / "progress_estimator")

    def remember(self, trajectories: list[Trajectory]) -> None:
        self.buffer.extend((_step_ids(t), t.env_return) for t in trajectories if t.steps)

    def fit(self, policy) -> dict[str, float]:
        """(Re)fit on the buffer; a ``policy`` encoder first re-copies the policy's current weights."""
        self.estimator.refresh_encoder(policy)
        metrics = self.estimator.fit([seqs for seqs, _ in self.buffer], [ret for _, ret in self.buffer])
        self.fitted = True
        if self.refresh_every == 0:  # fitted once for the whole run: nothing will read the buffer again
            self.buffer.clear()
        self.estimator.save(self.save_dir)
        return metrics

    def annotate(self, trajectories: list[Trajectory]) -> tuple[np.ndarray, dict[str, float]]:
        """c_t for every step (in order), the oracle check on these unseen trajectories, then remember them."""
        contributions = self.estimator.predict([seq for t in trajectories for seq in _step_ids(t)])
        metrics = {"progress/contribution_mean": float(contributions.mean()) if len(contributions) else 0.0}
        if any(s.info.get("expert_steps_left") is not None for t in trajectories for s in t.steps):
            metrics.update(oracle_correlation(trajectories, contributions))
        if self.refresh_every > 0:  # only refits read the buffer
            self.remember(trajectories)
        return contributions, metrics

    def due(self, iteration: int) -> bool:
        return self.refresh_every > 0 and iteration > 0 and iteration % self.refresh_every == 0

    def state_dict(self) -> dict[str, Any]:
        return {"estimator": self.estimator.state_dict(), "buffer": list(self.buffer), "fitted": self.fitted}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.estimator.load_state_dict(state["estimator"])
        self.buffer.clear()
        self.buffer.extend(state["buffer"])
        self.fitted = state["fitted"]
