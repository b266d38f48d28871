"""HGPO (arXiv 2602.22817, ICLR 2026): step advantages from a hierarchy of context-consistent step groups.

GiGPO's step group pools the steps of an episode group that share the current state, even when the
prompts showed them different histories. HGPO places every step in nested groups G_1 ⊇ G_2 ⊇ ... ⊇ G_{K+1}:
level k holds the steps of the episode group whose last k anchor states (the current one and the k-1 before
it, the window the prompt's memory shows) are equal. Within each level's groups of two or more,

    A_k = (R_t - mean_g R) / (std_g R + eps)      (population std; ``norm="mean"`` drops the division)

with R_t the discounted return r_t + gamma R_{t+1}, and the step's advantage aggregates its levels,

    A = sum_k w_k A_k / (sum_k w_k + eps),   w_k = (k + 1) ** alpha,

over the levels where the step is in a group of two or more and A_k != 0 (a level that cannot tell its
members apart gives no vote), so deeper, more consistent contexts weigh more. A step in no such level gets 0.
``base_group=True`` adds the trajectory-level advantage (verl-agent's per-step-sample statistics) as level 0
with weight 1. There is no separate episode term: as in the reference recipe, the first step of every
trajectory shares its initial state with the whole group, which carries the outcome signal.

This follows verl-agent's ``recipe/hgpo`` (history_length 2, alpha 1, base_group off): the anchors are the
environment's observations alone, without the actions in between, and a state revisited within one
trajectory joins its own groups. A gap in t (a filtered step) ends the shared history there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agentgym.core.types import StepBatch
from agentgym.credit.groups import (
    NORMS,
    TrajectoryLayout,
    check_choice,
    episode_scores,
    factorize,
    normalise_in_groups,
)
from agentgym.credit.penalty import reads_step_penalty, step_penalty
from agentgym.credit.registry import DIAGNOSTICS, ESTIMATORS


@dataclass(frozen=True)
class HgpoLevels:
    """Per-level advantages and groups, each (n_levels, n) in batch row order; level i is k = i + 1."""

    advantage: np.ndarray  # A_k, 0 where the step is not in a group of two or more at that level
    group: np.ndarray  # group code at that level, -1 where the step has no k-step history
    size: np.ndarray  # size of the step's group at that level, 0 where it has none


def _trajectory_positions(layout: TrajectoryLayout, t_sorted: np.ndarray) -> np.ndarray:
    """Contiguous history available at each sorted position: how many steps before it, without a gap in t."""
    n = len(layout.order)
    follows = np.zeros(n, dtype=bool)  # this position continues the previous one's trajectory at t + 1
    follows[1:] = (layout.traj[1:] == layout.traj[:-1]) & (t_sorted[1:] == t_sorted[:-1] + 1)
    positions = np.arange(n)
    run_start = np.maximum.accumulate(np.where(follows, 0, positions)) if n else positions
    return positions - run_start


def hgpo_levels(batch: StepBatch, gamma: float = 0.95, history_len: int = 2, norm: str = "mean_std",
                eps: float = 1e-6, layout: TrajectoryLayout | None = None) -> HgpoLevels:
    """The K + 1 levels' groups and advantages (K = ``history_len``); ``layout``: the batch's, if built."""
    check_choice("norm", norm, NORMS)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    if history_len < 0:
        raise ValueError(f"history_len must be >= 0, got {history_len}")
    layout = layout or TrajectoryLayout.of(batch)
    order, n = layout.order, len(batch)
    returns = layout.backward_scan(batch.reward, gamma) - step_penalty(batch)  # (n,) R_t, row order
    state = factorize(batch.state_key)[order]  # (n,) sorted positions
    history = _trajectory_positions(layout, batch.t[order])
    n_levels = history_len + 1
    advantage, group = np.zeros((n_levels, n)), np.full((n_levels, n), -1, dtype=np.int64)
    size = np.zeros((n_levels, n), dtype=np.int64)
    key = layout.group_of_row[order].astype(np.int64)  # the episode group: what level 1 extends
    n_states = int(state.max(initial=0)) + 1
    for level in range(n_levels):
        has = history >= level  # this step has `level` earlier steps of its trajectory to compare
        if not has.any():
            break
        at = np.flatnonzero(has)
        pair = key[at] * n_states + state[at - level]  # one int64 per (shorter key, state `level` steps back)
        _, local = np.unique(pair, return_inverse=True)
        local = local.reshape(-1)
        key = np.full(n, -1, dtype=np.int64)
        key[at] = local  # deeper levels extend these codes; rows without the history drop out
        counts = np.bincount(local)
        rows = order[at]
        advantage[level, rows] = normalise_in_groups(returns[rows], local, norm, eps, "zero", ddof=0)
        group[level, rows], size[level, rows] = local, counts[local]
    return HgpoLevels(advantage, group, size)


@ESTIMATORS.register("hgpo")
@reads_step_penalty
def hgpo(batch: StepBatch, gamma: float = 0.95, history_len: int = 2, alpha: float = 1.0, norm: str = "mean_std",
         eps: float = 1e-6, base_group: bool = False) -> np.ndarray:
    """Adaptively weighted hierarchy-of-groups step advantage, shape (len(batch),)."""
    if len(batch) == 0:
        return np.zeros(0)
    layout = TrajectoryLayout.of(batch)
    levels = hgpo_levels(batch, gamma, history_len, norm, eps, layout)
    k = np.arange(1, history_len + 2, dtype=np.float64)[:, None]  # (n_levels, 1)
    values, weights = levels.advantage, np.where(levels.advantage != 0, (k + 1.0) ** alpha, 0.0)
    if base_group:  # verl-agent's trajectory advantage: R(tau) - p_i over the group's step samples
        scores, groups = episode_scores(batch, layout, "step", "hgpo")
        base = normalise_in_groups(scores, groups, norm, eps, "unit")[None, :]
        values = np.vstack([base, values])
        weights = np.vstack([np.where(base != 0, 1.0, 0.0), weights])
    return (weights * values).sum(axis=0) / (weights.sum(axis=0) + eps)


@DIAGNOSTICS.register("hgpo")
def hgpo_diagnostics(batch: StepBatch, adv: np.ndarray, gamma: float = 0.95, history_len: int = 2,
                     alpha: float = 1.0, norm: str = "mean_std", eps: float = 1e-6,
                     base_group: bool = False) -> dict[str, float]:
    """Per level k: the share of steps in a group of two or more, and their mean group size.

    ``credit/hgpo_zero_adv_frac`` is the share of steps whose HGPO advantage is exactly 0 (in no
    informative group at any level); compare it with GiGPO's ``credit/step_in_singleton_frac``.
    """
    if len(batch) == 0:
        return {}
    levels = hgpo_levels(batch, gamma, history_len, norm, eps)
    stats = {"credit/hgpo_zero_adv_frac": float(np.mean(np.asarray(adv) == 0))}
    for i in range(history_len + 1):
        shared = levels.size[i] >= 2
        stats[f"credit/hgpo_level{i + 1}_shared_frac"] = float(np.mean(shared))
        stats[f"credit/hgpo_level{i + 1}_mean_size"] = float(levels.size[i][shared].mean()) if shared.any() else 0.0
    return stats
