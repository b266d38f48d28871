"""REINFORCE++ (Hu 2025) at the step level: discounted return-to-go, whitened over the whole batch.

G_t = sum_k gamma^k r_{t+k} within the trajectory; A_t = (G_t - mean G) / (std G + eps), where mean and
Bessel std run over every step of the batch, each step counted once. This is REINFORCE++'s global
batch normalisation in place of a per-group baseline: no group ids are used, so it also works with one
rollout per task. (REINFORCE++ folds the KL penalty into the reward; here the reward column arrives
already shaped and KL stays in the loss, see ``agentgym.losses.kl_penalty``.) A batch of a single step
normalises with mean 0 and std 1, the same rule as a singleton group elsewhere.
"""

from __future__ import annotations

import numpy as np

from agentgym.credit.groups import TrajectoryLayout, normalise_in_groups
from agentgym.credit.registry import ESTIMATORS
from agentgym.types import StepBatch


@ESTIMATORS.register("reinforce_pp")
def reinforce_pp(batch: StepBatch, gamma: float = 1.0, eps: float = 1e-6) -> np.ndarray:
    """Batch-whitened discounted return-to-go, one value per step, shape (len(batch),)."""
    returns_to_go = TrajectoryLayout.of(batch).backward_scan(batch.reward, gamma)  # (n,)
    whole_batch = np.zeros(len(batch), dtype=np.int64)
    return normalise_in_groups(returns_to_go, whole_batch, "mean_std", eps, singleton="unit")
