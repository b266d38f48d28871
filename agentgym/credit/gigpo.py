"""GiGPO (arXiv 2505.10978): episode-level group advantage plus an anchor-state step-level advantage.

A = A_E + omega * A_S (docs/architecture.md, "Credit definitions").

- A_E compares trajectory returns R(tau) inside the episode group. ``episode_stats="trajectory"``
  (default, the paper) counts each trajectory once; ``"step"`` reproduces verl-agent, which counts every
  step sample, so longer trajectories weigh more in the mean and std. A group of one normalises with
  mean 0 and std 1. A step penalty p_i (``credit/penalty.py``) lowers step i's scores only: R(tau) - p_i
  at the episode level (step statistics) and R_t - p_i at the step level, verl-agent's invalid-action rule.
- A_S compares discounted within-trajectory returns R_t = r_t + gamma R_{t+1} among the steps of one
  episode group that share a ``state_key`` (anchor state; a loop that revisits a state joins its own
  group). A step group of one gets A_S = 0, so without repeated states GiGPO reduces to GRPO.
- ``norm="mean"`` drops the std division at both levels (the paper's F_norm = 1).
- ``similarity_order``: similarity clusters form in rollout order (``"rollout"``) or in the batch's row
  order (``"rows"``): verl-agent clusters after its batch balancing reorders rows, so parity with a
  balanced verl-agent batch needs the rows in that order and ``"rows"``.

Everything is vectorised: one sort by (trajectory, t), integer group codes and bincounts, O(n log n).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agentgym.core.types import StepBatch
from agentgym.credit.anchors import step_groups
from agentgym.credit.groups import (
    NORMS,
    TrajectoryLayout,
    check_choice,
    episode_scores,
    normalise_in_groups,
    per_row,
)
from agentgym.credit.penalty import reads_step_penalty, step_penalty
from agentgym.credit.registry import DIAGNOSTICS, ESTIMATORS


@dataclass(frozen=True)
class GigpoParts:
    """The two components per batch row, and the step group each row was compared in."""

    episode_adv: np.ndarray  # (n,) A_E
    step_adv: np.ndarray  # (n,) A_S, before the omega weight
    step_group: np.ndarray  # (n,) step-group code


def gigpo_parts(batch: StepBatch, gamma: float = 0.95, norm: str = "mean_std", eps: float = 1e-6,
                episode_stats: str = "trajectory", similarity_thresh: float | None = None,
                similarity_order: str = "rollout") -> GigpoParts:
    """Compute A_E, A_S and the step groups; ``gigpo`` combines them."""
    check_choice("norm", norm, NORMS)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    layout = TrajectoryLayout.of(batch)
    scores, groups = episode_scores(batch, layout, episode_stats, "gigpo")
    episode_adv = per_row(normalise_in_groups(scores, groups, norm, eps, "unit"), layout, episode_stats)
    step_group = step_groups(batch, layout, similarity_thresh, similarity_order)
    discounted = layout.backward_scan(batch.reward, gamma) - step_penalty(batch)  # (n,) R_t - p_t
    step_adv = normalise_in_groups(discounted, step_group, norm, eps, "zero")
    return GigpoParts(episode_adv, step_adv, step_group)


@ESTIMATORS.register("gigpo")
@reads_step_penalty
def gigpo(batch: StepBatch, gamma: float = 0.95, omega: float = 1.0, norm: str = "mean_std",
          eps: float = 1e-6, episode_stats: str = "trajectory",
          similarity_thresh: float | None = None, similarity_order: str = "rollout") -> np.ndarray:
    """A_E + omega * A_S per step, shape (len(batch),)."""
    parts = gigpo_parts(batch, gamma, norm, eps, episode_stats, similarity_thresh, similarity_order)
    return parts.episode_adv + omega * parts.step_adv


SIZE_BUCKETS = ((1, 1, "1"), (2, 4, "2_4"), (5, 8, "5_8"), (9, None, "9_plus"))


@DIAGNOSTICS.register("gigpo")
def gigpo_diagnostics(batch: StepBatch, adv: np.ndarray, gamma: float = 0.95, omega: float = 1.0,
                      norm: str = "mean_std", eps: float = 1e-6, episode_stats: str = "trajectory",
                      similarity_thresh: float | None = None, similarity_order: str = "rollout") -> dict[str, float]:
    """Step-group size histogram and how much the step level moved the advantages.

    ``credit/step_adv_abs_mean`` is the mean |omega * A_S| (the step term as it enters A), next to
    ``credit/episode_adv_abs_mean`` = mean |A_E|; ``credit/step_adv_changed_frac`` is the share of
    steps whose advantage the step term changed (omega * A_S != 0). ``adv`` (unused) is accepted for the
    common diagnostics signature; the components are recomputed because adv alone cannot split them.
    """
    if len(batch) == 0:
        return {}
    parts = gigpo_parts(batch, gamma, norm, eps, episode_stats, similarity_thresh, similarity_order)
    sizes = np.bincount(parts.step_group)  # (n_step_groups,)
    step_term = omega * parts.step_adv
    stats = {
        "credit/step_group_count": float(len(sizes)),
        "credit/step_group_mean_size": float(sizes.mean()),
        "credit/step_group_singleton_frac": float(np.mean(sizes == 1)),
        "credit/step_in_singleton_frac": float(np.mean(sizes[parts.step_group] == 1)),
        "credit/step_adv_changed_frac": float(np.mean(np.abs(step_term) > 1e-12)),
        "credit/episode_adv_abs_mean": float(np.mean(np.abs(parts.episode_adv))),
        "credit/step_adv_abs_mean": float(np.mean(np.abs(step_term))),
    }
    for low, high, name in SIZE_BUCKETS:
        in_bucket = (sizes >= low) & (sizes <= (high if high is not None else sizes.max()))
        stats[f"credit/step_group_size_{name}_frac"] = float(np.mean(in_bucket))
    return stats
