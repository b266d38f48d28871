"""OracleDistance: the oracle's remaining plan length as a batch column, and a penalty on it.

One folder, one entry point: the package's ``pyproject.toml`` declares

    [project.entry-points."agentgym.features"]
    oracle_distance = "oracle_distance.feature:OracleDistance"

and ``python -m agentgym.train --oracle-distance-coef 0.01`` turns it on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agentgym.train.features import TrainerFeature


@dataclass(frozen=True)
class OracleDistanceSettings:
    """oracle_distance: a penalty per remaining oracle step (environments that report expert_steps_left)"""

    coef: float = 0.0
    """Reward subtracted per step the oracle still needs after the action; 0 = off."""


class OracleDistance(TrainerFeature):
    name = "oracle_distance"  # flags --oracle-distance-{field}; its state's key in checkpoints
    settings = OracleDistanceSettings
    info_keys = ("expert_steps_left",)  # deferred info values the rollout must compute for this feature
    data_parallel = True  # it reads the gathered batch only

    def __init__(self, coef: float):
        self.coef = coef

    @classmethod
    def from_config(cls, config, settings: OracleDistanceSettings, context):
        return cls(settings.coef) if settings.coef > 0 else None

    def annotate(self, trajectories, batch):
        """Runs before the shapers and the estimator: a column, a shaped reward, and metrics."""
        left = np.array([np.nan if s.info.get("expert_steps_left") is None else s.info["expert_steps_left"]
                         for t in trajectories for s in t.steps], dtype=float)  # batch row order
        batch = batch.with_extras(expert_steps_left=left)
        batch = batch.with_reward(batch.reward - self.coef * np.nan_to_num(left))
        known = left[~np.isnan(left)]
        return batch, {"oracle_distance/steps_left_mean": float(known.mean()) if len(known) else float("nan")}
