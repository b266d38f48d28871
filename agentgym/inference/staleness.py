"""The staleness bound of asynchronous rollouts: samples older than ``max_staleness`` updates are dropped.

A sample's staleness is the trainer's policy version when it is trained on minus the version that
sampled it. Whole trajectories are dropped (never single steps, which would break their groups'
returns); they are counted, never silently lost.
"""

from __future__ import annotations

import numpy as np

from agentgym.core.types import Trajectory


def drop_stale(trajectories: list[Trajectory], version: int,
               max_staleness: int) -> tuple[list[Trajectory], dict[str, float]]:
    """(trajectories within the bound, staleness metrics). Steps without a version count as fresh."""
    lags = [[version - s.policy_version for s in t.steps if s.policy_version is not None] for t in trajectories]
    keep = [not lag or max(lag) <= max_staleness for lag in lags]
    every = np.asarray([x for lag in lags for x in lag], dtype=float)
    dropped = len(keep) - sum(keep)
    metrics = {"rollout/staleness_mean": float(every.mean()) if len(every) else 0.0,
               "rollout/staleness_max": float(every.max()) if len(every) else 0.0,
               "rollout/stale_dropped": float(dropped),
               "rollout/stale_dropped_frac": dropped / max(len(trajectories), 1)}
    return [t for t, k in zip(trajectories, keep) if k], metrics
