"""Turn-level GAE and its value targets on a hand-worked trajectory."""

import numpy as np
import pytest

from agentgym import StepBatch, credit
from agentgym.credit.gae import gae_value_targets


def make_batch(rewards, values, traj_id=0, **extras):
    records = [dict(group_id=0, traj_id=traj_id, t=t, reward=r, state_key=str(t), value=v)
               for t, (r, v) in enumerate(zip(rewards, values))]
    for name, column in extras.items():
        for record, value in zip(records, column):
            record[name] = value
    return records


def test_gae_by_hand():
    # gamma 0.9, lam 0.5; V after the last step = 0
    # deltas: 0 + 0.9*0.6 - 0.5 = 0.04, 0 + 0.9*0.8 - 0.6 = 0.12, 1 + 0 - 0.8 = 0.2
    # A2 = 0.2, A1 = 0.12 + 0.45*0.2 = 0.21, A0 = 0.04 + 0.45*0.21 = 0.1345
    batch = StepBatch.from_records(make_batch([0, 0, 1], [0.5, 0.6, 0.8]))
    np.testing.assert_allclose(credit.get("gae")(batch, gamma=0.9, lam=0.5), [0.1345, 0.21, 0.2], rtol=1e-12)
    np.testing.assert_allclose(gae_value_targets(batch, gamma=0.9, lam=0.5), [0.6345, 0.81, 1.0], rtol=1e-12)


def test_gae_lambda_one_is_return_minus_value():
    batch = StepBatch.from_records(make_batch([0, 0, 1], [0.5, 0.6, 0.8]))
    np.testing.assert_allclose(credit.get("gae")(batch), [0.5, 0.4, 0.2], rtol=1e-12)
    np.testing.assert_allclose(gae_value_targets(batch), [1.0, 1.0, 1.0], rtol=1e-12)


def test_gae_keeps_trajectories_apart_and_any_row_order():
    records = make_batch([0, 1], [0.5, 0.5]) + make_batch([0, 0], [0.2, 0.4], traj_id=1)
    batch = StepBatch.from_records(records[::-1])
    # traj 0: A1 = 1 - 0.5 = 0.5, A0 = 0.5 - 0.5 + 0.5 = 0.5; traj 1: A1 = -0.4, A0 = 0.4 - 0.2 - 0.4 = -0.2
    np.testing.assert_allclose(credit.get("gae")(batch), [-0.4, -0.2, 0.5, 0.5], rtol=1e-12)


def test_gae_bootstraps_a_truncated_trajectory_when_given_a_value():
    # delta = 0 + 0.5 * 2.0 - 1.0 = 0; NaN on the other rows is ignored
    batch = StepBatch.from_records(make_batch([0, 0], [1.0, 1.0], bootstrap_value=[np.nan, 2.0]))
    np.testing.assert_allclose(credit.get("gae")(batch, gamma=0.5), [-0.5, 0.0], rtol=1e-12)


def test_gae_whiten_gives_zero_mean_unit_std():
    batch = StepBatch.from_records(make_batch([0, 0, 1], [0.5, 0.6, 0.8]))
    adv = credit.get("gae")(batch, whiten=True)
    raw = np.array([0.5, 0.4, 0.2])
    np.testing.assert_allclose(adv, (raw - raw.mean()) / (raw.std(ddof=1) + 1e-8), rtol=1e-9)


def test_gae_without_values_explains_what_is_missing():
    batch = StepBatch.from_records([dict(group_id=0, traj_id=0, t=0, reward=1.0, state_key="s")])
    with pytest.raises(KeyError, match="extras\\['value'\\]"):
        credit.get("gae")(batch)
