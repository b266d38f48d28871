"""REINFORCE++ (Hu 2025) at the step level, and its group-baseline variant (verl's ``reinforce_plus_plus_baseline``).

``baseline="none"`` (default): G_t = sum_k gamma^k r_{t+k} - p_t within the trajectory, whitened over the
whole batch: A_t = (G_t - mean G) / (std G + eps), Bessel std, each step counted once. No group ids are
used, so it also works with one rollout per task. ``baseline="group"``: each step sample's episode score
R(tau) - p_i minus the mean score of its group's step samples (a group of one sample: mean 0), then the
same batch whitening; gamma is unused there, as in verl. Departure from verl: verl whitens over tokens
(a sample weighs by its response length); here every step weighs 1. REINFORCE++ folds the KL penalty into
the reward; here the reward column arrives already shaped and KL stays in the loss
(``agentgym.train.losses.kl_penalty``). A batch of a single step normalises with mean 0 and std 1.
"""

from __future__ import annotations

import numpy as np

from agentgym.core.types import StepBatch
from agentgym.credit.groups import TrajectoryLayout, check_choice, episode_scores, normalise_in_groups
from agentgym.credit.penalty import reads_step_penalty, step_penalty
from agentgym.credit.registry import ESTIMATORS

BASELINES = ("none", "group")


@ESTIMATORS.register("reinforce_pp")
@reads_step_penalty
def reinforce_pp(batch: StepBatch, gamma: float = 1.0, eps: float = 1e-6, baseline: str = "none") -> np.ndarray:
    """Batch-whitened return (to go, or minus its group's mean score), one value per step, shape (len(batch),)."""
    check_choice("baseline", baseline, BASELINES)
    layout = TrajectoryLayout.of(batch)
    if baseline == "none":
        scores = layout.backward_scan(batch.reward, gamma) - step_penalty(batch)  # (n,) G_t - p_t
    else:
        scores, groups = episode_scores(batch, layout, "step", "reinforce_pp")
        counts = np.bincount(groups)
        mean = np.bincount(groups, weights=scores) / counts
        scores = scores - np.where(counts > 1, mean, 0.0)[groups]
    whole_batch = np.zeros(len(batch), dtype=np.int64)
    return normalise_in_groups(scores, whole_batch, "mean_std", eps, singleton="unit")
