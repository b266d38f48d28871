"""Batch filters: dynamic sampling and LOOP's small-advantage filter, on hand-worked batches."""

import numpy as np
import pytest

from agentgym.core.types import StepBatch
from agentgym.credit import filters


def _batch(rows, rewards=None):
    rewards = rewards or [0.0] * len(rows)
    return StepBatch.from_records([dict(group_id=g, traj_id=i, t=t, reward=r, state_key="s")
                                   for (g, i, t), r in zip(rows, rewards)])


def test_small_advantage_filter_drops_whole_trajectories_that_teach_nothing():
    """LOOP's |A| < 0.01 filter: a trajectory leaves the update only when none of its steps reaches it."""
    batch = _batch([(0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 2, 0), (0, 2, 1), (0, 2, 2)])
    advantages = np.array([0.0, 0.02, 0.005, -0.001, 0.009, -0.01])
    # trajectory 0 has a step at 0.02, trajectory 1 only 0.005, trajectory 2 reaches |-0.01| on its last step
    keep, metrics = filters.informative_trajectories(batch, advantages, 0.01)
    assert keep.tolist() == [True, True, False, True, True, True]
    assert metrics == {"credit/small_adv_dropped_frac": pytest.approx(1 / 6)}
    keep, _ = filters.informative_trajectories(batch, advantages, 0.015)
    assert keep.tolist() == [True, True, False, False, False, False]


def test_small_advantage_filter_off_keeps_every_row_and_reports_nothing():
    batch = _batch([(0, 0, 0), (0, 1, 0)])
    keep, metrics = filters.informative_trajectories(batch, np.zeros(2), 0.0)
    assert keep.tolist() == [True, True] and metrics == {}


def test_dynamic_sampling_drops_groups_whose_returns_are_all_equal():
    # group 0: returns 1 and 1 (flat); group 1: returns 0 and 1 (varied, trajectory 3 earns it over two steps)
    batch = _batch([(0, 0, 0), (0, 1, 0), (1, 2, 0), (1, 3, 0), (1, 3, 1)], rewards=[1.0, 1.0, 0.0, 0.5, 0.5])
    assert filters.varied_groups(batch, enabled=True).tolist() == [False, False, True, True, True]
    assert filters.varied_groups(batch, enabled=False).tolist() == [True] * 5
