"""Batch filters: which rows of a step batch the update trains on (pure functions of the batch).

Both return an all-true mask at their "off" setting, so the loop calls them unconditionally.
``varied_groups`` is dynamic sampling (DAPO): groups whose trajectory returns are all equal carry
no group-relative signal and are dropped before credit. ``informative_trajectories`` is LOOP's
filter: after credit, a trajectory none of whose steps reaches ``|advantage| >= min_abs_advantage``
leaves the update's averages.
"""

from __future__ import annotations

import numpy as np

from agentgym.core.types import StepBatch


def varied_groups(batch: StepBatch, enabled: bool) -> np.ndarray:
    """Row mask of the groups whose trajectory returns are not all equal (every row when not ``enabled``)."""
    if not enabled:
        return np.ones(len(batch), dtype=bool)
    _, groups, returns = batch.trajectory_returns()
    varied = {g for g in np.unique(groups) if np.ptp(returns[groups == g]) > 1e-8}
    return np.array([g in varied for g in batch.group_id], dtype=bool)


def informative_trajectories(batch: StepBatch, advantages: np.ndarray,
                             min_abs_advantage: float) -> tuple[np.ndarray, dict[str, float]]:
    """(row mask of the trajectories with a step whose |advantage| reaches the threshold, metrics).

    At ``min_abs_advantage = 0`` every row is kept and no metric is reported.
    """
    if min_abs_advantage <= 0:
        return np.ones(len(batch), dtype=bool), {}
    trajectories, rows = np.unique(batch.traj_id, return_inverse=True)
    informative = np.zeros(len(trajectories), dtype=bool)
    np.logical_or.at(informative, rows, np.abs(advantages) >= min_abs_advantage)
    keep = informative[rows]
    return keep, {"credit/small_adv_dropped_frac": float(1.0 - keep.mean()) if len(keep) else 0.0}
