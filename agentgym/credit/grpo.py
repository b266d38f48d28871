"""GRPO: each trajectory's return normalised in its group (docs/credit.md).

A = (R - mean_group R) / (std_group R + eps), Bessel std, every step of a trajectory getting its
trajectory's advantage. ``episode_stats="trajectory"`` (default, the paper) counts each trajectory once;
``"step"`` counts every step sample, as verl-agent does (``compute_mean_std_cross_steps=True``), so longer
trajectories weigh more in the mean and std, and a step penalty (``step_penalty``) lowers its own sample's
score R(tau) - p_i. A group of one sample normalises with mean 0 and std 1 (verl's rule): under trajectory
statistics that is a lone rollout; under step statistics only a one-step lone rollout is one sample.
"""

from __future__ import annotations

import numpy as np

from agentgym.core.types import StepBatch
from agentgym.credit.groups import TrajectoryLayout, episode_scores, normalise_in_groups, per_row
from agentgym.credit.penalty import reads_step_penalty
from agentgym.credit.registry import ESTIMATORS


@ESTIMATORS.register("grpo")
@reads_step_penalty
def grpo(batch: StepBatch, norm: str = "mean_std", eps: float = 1e-6, episode_stats: str = "trajectory"
         ) -> np.ndarray:
    """Episode-level group-normalised advantage, one value per step, shape (len(batch),)."""
    layout = TrajectoryLayout.of(batch)
    scores, groups = episode_scores(batch, layout, episode_stats, "grpo")
    return per_row(normalise_in_groups(scores, groups, norm, eps, singleton="unit"), layout, episode_stats)
