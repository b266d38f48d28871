"""The progress estimator's life inside a training run (SPA-RL's pipeline), as a trainer feature.

Built when a configured shaper reads the ``progress`` column (``shapers=[progress]``). Before RL
(``warm_up``): exploration rollouts of the starting policy are collected and the estimator is fitted
on them. Every iteration (``annotate``): each step of the new batch gets its contribution c_t, the
batch is checked against oracle progress where the environment has an expert (before the estimator
has seen it), and its trajectories join a bounded buffer. Every ``progress_refresh_every`` iterations
(``end_iteration``) the estimator is refitted on that buffer. The estimator and its buffer are part
of the trainer's checkpoint, so a resumed run continues exactly.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentgym import credit
from agentgym.core.types import Trajectory
from agentgym.train.features import SetupContext, TrainerFeature
from agentgym.util.params import check_choice
from rewards.progress import ProgressEstimator, ProgressSettings
from rewards.progress_oracle import oracle_correlation

COLUMN = "progress"
ENCODERS = ("policy", "separate")


@dataclass
class ProgressAttributionSettings(ProgressSettings):
    """progress: progress attribution (shapers=progress): the estimator, its exploration, refits and buffer"""

    estimator: str = "policy"
    """Encoder of the estimator: policy (a frozen copy of the policy, head only) | separate (its own LM)."""
    model: str | None = None
    """Model folder of a separate encoder; None = the policy's starting model."""
    explore_batches: int = 2
    """Rollout batches of the starting policy the estimator is first fitted on."""
    refresh_every: int = 0
    """Refit the estimator on recent rollouts every N iterations; 0 = fit once."""
    buffer: int = 1024
    """Trajectories kept for refits."""

    def estimator_settings(self) -> ProgressSettings:
        """The fields the estimator itself reads (saved with it)."""
        return ProgressSettings(**{f.name: getattr(self, f.name) for f in dataclasses.fields(ProgressSettings)})


def _step_ids(traj: Trajectory) -> list[tuple[list[int], list[int]]]:
    return [(list(s.prompt_ids), list(s.response_ids)) for s in traj.steps]


def wanted(config) -> bool:
    """Whether a configured shaper declares that it reads the ``progress`` column."""
    return any(COLUMN in getattr(credit.get_shaper(name), "requires", ()) for name in config.shapers)


class ProgressAttribution(TrainerFeature):
    name = "progress"
    settings = ProgressAttributionSettings
    info_keys = ("expert_steps_left",)  # the oracle check on unseen trajectories reads it

    def __init__(self, estimator: ProgressEstimator, policy, refresh_every: int, buffer_size: int,
                 save_dir: Path, explore_batches: int = 2):
        self.estimator = estimator
        self.policy = policy  # a ``policy`` encoder re-copies its current weights before each fit
        self.refresh_every = refresh_every
        self.explore_batches = explore_batches
        self.buffer: deque[tuple[list[tuple[list[int], list[int]]], float]] = deque(maxlen=buffer_size)
        self.save_dir = Path(save_dir)
        self.fitted = False

    @classmethod
    def check_config(cls, config, settings: ProgressAttributionSettings) -> None:
        check_choice(settings.estimator, ENCODERS, "progress_estimator")

    @classmethod
    def from_config(cls, config, settings: ProgressAttributionSettings,
                    context: SetupContext) -> ProgressAttribution | None:
        if not wanted(config):
            return None
        estimator = ProgressEstimator.build(settings.estimator, context.policy, settings.model or context.model_path,
                                            settings.estimator_settings())
        return cls(estimator, context.policy, settings.refresh_every, settings.buffer,
                   Path(context.run_dir) / "progress_estimator", settings.explore_batches)

    # ---- trainer hooks --------------------------------------------------------------------------
    def warm_up(self, rollout) -> dict[str, float]:
        """Exploration rollouts of the starting policy, then the first fit (skipped when resumed fitted)."""
        if self.fitted:
            return {}
        tick = time.perf_counter()
        for _ in range(self.explore_batches):
            self.remember(rollout())
        metrics = self.fit()
        metrics["time/progress_fit_s"] = time.perf_counter() - tick
        return metrics

    def annotate(self, trajectories, batch):
        """c_t for every step (in order), the oracle check on these unseen trajectories, then remember them."""
        contributions = self.estimator.predict([seq for t in trajectories for seq in _step_ids(t)])
        metrics = {"progress/contribution_mean": float(contributions.mean()) if len(contributions) else 0.0}
        if any(s.info.get("expert_steps_left") is not None for t in trajectories for s in t.steps):
            metrics.update(oracle_correlation(trajectories, contributions))
        if self.refresh_every > 0:  # only refits read the buffer
            self.remember(trajectories)
        return batch.with_extras(**{COLUMN: contributions}), metrics

    def end_iteration(self, iteration: int) -> dict[str, float]:
        return self.fit() if self.due(iteration) else {}

    # ---- the estimator's buffer and fits --------------------------------------------------------
    def remember(self, trajectories: list[Trajectory]) -> None:
        self.buffer.extend((_step_ids(t), t.env_return) for t in trajectories if t.steps)

    def fit(self) -> dict[str, float]:
        """(Re)fit on the buffer; a ``policy`` encoder first re-copies the policy's current weights."""
        self.estimator.refresh_encoder(self.policy)
        metrics = self.estimator.fit([seqs for seqs, _ in self.buffer], [ret for _, ret in self.buffer])
        self.fitted = True
        if self.refresh_every == 0:  # fitted once for the whole run: nothing will read the buffer again
            self.buffer.clear()
        self.estimator.save(self.save_dir)
        return metrics

    def due(self, iteration: int) -> bool:
        return self.refresh_every > 0 and iteration > 0 and iteration % self.refresh_every == 0

    def state_dict(self) -> dict[str, Any]:
        return {"estimator": self.estimator.state_dict(), "buffer": list(self.buffer), "fitted": self.fitted}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.estimator.load_state_dict(state["estimator"])
        self.buffer.clear()
        self.buffer.extend(state["buffer"])
        self.fitted = state["fitted"]


__all__ = ["COLUMN", "ProgressAttribution", "wanted"]
