"""Check a progress estimator against oracle progress, where an environment has an expert planner.

Oracle progress after step t is 1 - L_{t+1} / L_0, with L the expert's remaining plan length
(``info["expert_steps_left"]``) before the first step and after step t (1 after a successful last
step). The check is the Spearman rank correlation, pooled over all steps of all trajectories,
between it and the estimator's cumulative progress sum_{k<=t} c_k. Steps whose oracle value is
unknown (after a failure or truncation, or where the environment has no expert) are skipped.
"""

from __future__ import annotations

import numpy as np

from agentgym.core.types import Trajectory


def oracle_progress(trajectory: Trajectory) -> np.ndarray:
    """Oracle progress after each step (NaN where unknown), shape (len(trajectory),)."""
    left = [s.info.get("expert_steps_left") for s in trajectory.steps]
    out = np.full(len(left), np.nan)
    if not left or left[0] is None or left[0] <= 0:
        return out
    after = [*left[1:], 0 if trajectory.success else None]  # L_{t+1}: the next step's "before"
    for t, remaining in enumerate(after):
        if remaining is not None:
            out[t] = 1.0 - remaining / left[0]
    return out


def rankdata(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties given their average rank (as ``scipy.stats.rankdata``)."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho (Pearson correlation of the ranks); NaN when either side is constant."""
    rx, ry = rankdata(x), rankdata(y)
    if len(rx) < 2 or rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def oracle_correlation(trajectories: list[Trajectory], contributions: np.ndarray) -> dict[str, float]:
    """``progress/oracle_spearman`` and the number of steps it used.

    ``contributions`` holds c_t for every step of ``trajectories``, in order.
    """
    n_steps = sum(len(t) for t in trajectories)
    if n_steps != len(contributions):
        raise ValueError(f"{len(contributions)} contributions for {n_steps} steps")
    predicted, oracle, start = [], [], 0
    for traj in trajectories:
        c = np.asarray(contributions[start:start + len(traj)], dtype=np.float64)
        start += len(traj)
        target = oracle_progress(traj)
        known = ~np.isnan(target)
        predicted.append(np.cumsum(c)[known])
        oracle.append(target[known])
    predicted, oracle = np.concatenate(predicted or [np.zeros(0)]), np.concatenate(oracle or [np.zeros(0)])
    return {"progress/oracle_spearman": spearman(predicted, oracle), "progress/oracle_steps": float(len(oracle))}
