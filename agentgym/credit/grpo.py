"""GRPO: each trajectory's return normalised in its group (docs/architecture.md, "Credit definitions").

A = (R - mean_group R) / (std_group R + eps), Bessel std over the group's trajectories; every step of a
trajectory gets its trajectory's advantage. A group of one trajectory normalises with mean 0 and std 1,
as verl does, so a lone rollout keeps its raw return as its advantage.
"""

from __future__ import annotations

import numpy as np

from agentgym.credit.groups import TrajectoryLayout, normalise_in_groups
from agentgym.credit.registry import ESTIMATORS
from agentgym.types import StepBatch


@ESTIMATORS.register("grpo")
def grpo(batch: StepBatch, norm: str = "mean_std", eps: float = 1e-6) -> np.ndarray:
    """Episode-level group-normalised advantage, one value per step, shape (len(batch),)."""
    layout = TrajectoryLayout.of(batch)
    returns = layout.trajectory_sums(batch.reward)  # (n_traj,)
    traj_adv = normalise_in_groups(returns, layout.traj_group, norm, eps, singleton="unit")
    return traj_adv[layout.traj_of_row]
