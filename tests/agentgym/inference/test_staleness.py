"""The staleness bound: whole trajectories past max_staleness are dropped, and counted."""

import pytest

from agentgym.core.types import Step, Trajectory
from agentgym.inference.staleness import drop_stale


def _traj(traj_id, versions):
    steps = [Step(group_id=0, traj_id=traj_id, t=t, prompt=[], response="", action="", reward=0.0, state_key="s",
                  policy_version=v) for t, v in enumerate(versions)]
    return Trajectory(group_id=0, traj_id=traj_id, task_id="t", steps=steps)


def test_trajectories_with_any_step_past_the_bound_are_dropped_whole():
    batch = [_traj(0, [5, 5]), _traj(1, [4, 5]), _traj(2, [3, 4]), _traj(3, [None, None])]
    kept, metrics = drop_stale(batch, version=5, max_staleness=1)
    assert [t.traj_id for t in kept] == [0, 1, 3]  # trajectory 2 has a step 2 updates old
    # lags over every versioned step: 0, 0, 1, 0, 2, 1
    assert metrics["rollout/staleness_mean"] == pytest.approx(4 / 6)
    assert metrics["rollout/staleness_max"] == 2
    assert metrics["rollout/stale_dropped"] == 1
    assert metrics["rollout/stale_dropped_frac"] == pytest.approx(1 / 4)


def test_synchronous_batches_lose_nothing():
    batch = [_traj(0, [2, 2, 2]), _traj(1, [2])]
    kept, metrics = drop_stale(batch, version=2, max_staleness=0)
    assert kept == batch and metrics["rollout/stale_dropped"] == 0 and metrics["rollout/staleness_max"] == 0
