import numpy as np
import pytest

from agentgym import Step, StepBatch, Trajectory
from agentgym.core.types import state_key_text


def _records():
    return [
        {"group_id": 0, "traj_id": 1, "t": 0, "reward": 0.0, "state_key": "a", "entropy": 0.5},
        {"group_id": 0, "traj_id": 1, "t": 1, "reward": 1.0, "state_key": "b", "entropy": 0.25},
        {"group_id": 0, "traj_id": 2, "t": 0, "reward": 0.5, "state_key": "a", "action_valid": False},
    ]


def test_from_records_builds_typed_columns():
    batch = StepBatch.from_records(_records())
    assert len(batch) == 3
    assert batch.group_id.dtype == np.int64 and batch.reward.dtype == np.float64
    assert batch.state_key.dtype == object and list(batch.state_key) == ["a", "b", "a"]
    assert np.isnan(batch.entropy[2])  # missing entropy -> NaN
    assert list(batch.extras["action_valid"]) == [None, None, False]


def test_missing_required_column_is_an_error():
    with pytest.raises(KeyError, match="state_key"):
        StepBatch.from_records([{"group_id": 0, "traj_id": 0, "t": 0, "reward": 1.0}])


def test_returns_per_trajectory_and_per_step():
    batch = StepBatch.from_records(_records())
    traj_ids, groups, returns = batch.trajectory_returns()
    assert list(traj_ids) == [1, 2] and list(groups) == [0, 0]
    np.testing.assert_allclose(returns, [1.0, 0.5])
    np.testing.assert_allclose(batch.step_returns(), [1.0, 1.0, 0.5])


def test_with_reward_replaces_only_the_reward():
    batch = StepBatch.from_records(_records())
    shaped = batch.with_reward([1.0, 2.0, 3.0])
    np.testing.assert_allclose(shaped.reward, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(batch.reward, [0.0, 1.0, 0.5])
    with pytest.raises(ValueError):
        batch.with_reward([1.0])


def test_trajectory_to_batch_keeps_identity():
    steps = [Step(group_id=4, traj_id=9, t=t, prompt=[], response="", action="x", reward=float(t),
                  state_key=f"s{t}", entropies=[0.1, 0.3]) for t in range(3)]
    traj = Trajectory(group_id=4, traj_id=9, task_id="t", steps=steps, success=True)
    batch = StepBatch.from_trajectories([traj])
    assert list(batch.t) == [0, 1, 2] and traj.env_return == 3.0
    np.testing.assert_allclose(batch.entropy, [0.2, 0.2, 0.2])


def test_non_string_state_keys_are_keyed_by_their_full_value():
    """str() of a 40x40 array prints a summary with '...': two observations differing in one cell must not
    share an anchor key (verl-agent hashes the full value)."""
    a = np.zeros((40, 40), dtype=np.int64)
    b = a.copy()
    b[20, 20] = 1
    assert str(a) == str(b)  # the summary the old str() key used
    batch = StepBatch.from_records([dict(group_id=0, traj_id=i, t=0, reward=0.0, state_key=key)
                                    for i, key in enumerate([a, b, a.copy(), "room", [1, "1"], ["1", 1]])])
    keys = list(batch.state_key)
    assert keys[0] == keys[2] and keys[0] != keys[1]
    assert keys[3] == "room"  # strings pass unchanged
    assert keys[4] != keys[5]  # 1 and "1" stay apart inside sequences
    assert state_key_text(a.astype(np.int32)) != state_key_text(a)  # dtype is part of the value
    assert state_key_text({"x": 1, "y": [2, 3]}) == state_key_text({"y": (2, 3), "x": 1})
