"""IGPO (arXiv 2510.14967): turn rewards from the policy's growing belief in the gold answer.

Each turn t earns r_t = reward_t + info_gain_t, where ``info_gain`` (written by the trainer feature
``agentgym.train.features.igpo.feature``) is the change p_{t+1} - p_t of the policy's probability of the
gold answer that turn t's observation caused, 0 on the final turn (its outcome reward pays it). Two
ways to turn those rewards into advantages:

- ``normalise="pooled"`` (the paper, default): every turn reward of every rollout of one group
  (``group_id``) is pooled and z-normalised, r~ = (r - mean) / (std + eps) with the project's Bessel std
  (a pool of one value: mean 0, std 1; a pool of equal values: 0), then A_t = sum_{k>=t} gamma^(k-t) r~_k
  within the trajectory.
- ``normalise="position_mean"`` (the released code): G_t = sum_{k>=t} gamma^(k-t) r_k of the raw turn
  rewards, minus the mean of G over the group's rollouts that have a turn at the same index t; no std
  division. The code's "per-token-position" mean is read as per turn index, because here a turn's
  advantage is broadcast to all of its tokens (a (group, t) of one rollout gets 0).

``step_penalty`` (invalid_action mode="step") is not read: in the pooled form every turn reward moves
every advantage of the group, so a charge cannot stay on its own step; use mode="reward" (the paper's
format penalty is a turn reward too).
"""

from __future__ import annotations

import numpy as np

from agentgym.core.types import StepBatch
from agentgym.credit.groups import TrajectoryLayout, check_choice, normalise_in_groups
from agentgym.credit.registry import DIAGNOSTICS, ESTIMATORS

COLUMN = "info_gain"
NORMALISE = ("pooled", "position_mean")


def turn_rewards(batch: StepBatch) -> np.ndarray:
    """r_t = reward_t + info_gain_t per batch row, shape (len(batch),)."""
    if COLUMN not in batch.extras:
        raise ValueError(f"credit=igpo needs the information-gain feature's column {COLUMN!r} "
                         "(agentgym.train.features.igpo.feature, built by the trainer when credit=igpo)")
    gain = np.asarray(batch.extras[COLUMN], dtype=np.float64)
    if np.isnan(gain).any():
        raise ValueError(f"batch.extras[{COLUMN!r}] contains NaN")
    return batch.reward + gain


@ESTIMATORS.register("igpo")
def igpo(batch: StepBatch, gamma: float = 1.0, normalise: str = "pooled", eps: float = 1e-6) -> np.ndarray:
    """Information-gain turn advantages, one per step, shape (len(batch),)."""
    check_choice("normalise", normalise, NORMALISE)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    rewards = turn_rewards(batch)
    if len(batch) == 0:
        return np.zeros(0)
    layout = TrajectoryLayout.of(batch)
    if normalise == "pooled":
        pooled = normalise_in_groups(rewards, layout.group_of_row, "mean_std", eps, "unit")
        return layout.backward_scan(pooled, gamma)
    returns = layout.backward_scan(rewards, gamma)  # (n,) G_t
    _, position = np.unique(np.stack([layout.group_of_row, batch.t]), axis=1, return_inverse=True)
    position = position.reshape(-1)  # (n,) code of (group, t)
    means = np.bincount(position, weights=returns) / np.bincount(position)
    return returns - means[position]


@DIAGNOSTICS.register("igpo")
def igpo_diagnostics(batch: StepBatch, adv: np.ndarray, gamma: float = 1.0, normalise: str = "pooled",
                     eps: float = 1e-6) -> dict[str, float]:
    """``credit/igpo_info_gain_share``: sum |info_gain| / (sum |info_gain| + sum |reward|) over the batch, how much
    of the turn reward's mass the belief supplies; ``credit/igpo_zero_adv_frac``: steps whose advantage is exactly
    0 (the "advantage collapse" information gain is meant to avoid)."""
    if len(batch) == 0:
        return {}
    turn_rewards(batch)  # the column's checks
    gain = np.abs(np.asarray(batch.extras[COLUMN], dtype=np.float64)).sum()
    total = gain + np.abs(batch.reward).sum()
    return {"credit/igpo_info_gain_share": float(gain / total) if total > 0 else 0.0,
            "credit/igpo_zero_adv_frac": float(np.mean(np.asarray(adv) == 0))}
