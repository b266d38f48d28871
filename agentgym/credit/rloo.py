"""RLOO: each trajectory's return minus the mean return of the other rollouts of its group.

A_i = R_i - (sum_j R_j - R_i) / (N - 1). No std normalisation (LOOP, arXiv 2502.01600, found it hurts).
A trajectory alone in its group has no baseline to compare with and gets 0.
"""

from __future__ import annotations

import numpy as np

from agentgym.credit.groups import TrajectoryLayout
from agentgym.credit.registry import ESTIMATORS
from agentgym.types import StepBatch


@ESTIMATORS.register("rloo")
def rloo(batch: StepBatch) -> np.ndarray:
    """Leave-one-out baseline advantage, one value per step, shape (len(batch),)."""
    layout = TrajectoryLayout.of(batch)
    returns = layout.trajectory_sums(batch.reward)  # (n_traj,)
    counts = np.bincount(layout.traj_group)[layout.traj_group]  # (n_traj,) trajectories in my group
    totals = np.bincount(layout.traj_group, weights=returns)[layout.traj_group]
    others_mean = (totals - returns) / np.maximum(counts - 1, 1)
    traj_adv = np.where(counts > 1, returns - others_mean, 0.0)
    return traj_adv[layout.traj_of_row]
