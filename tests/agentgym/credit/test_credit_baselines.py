"""GRPO, RLOO and REINFORCE++ on small hand-worked batches."""

import math

import numpy as np
import pytest

from agentgym import StepBatch, credit
from agentgym.credit.groups import TrajectoryLayout

EPS = 1e-6


def make_batch(rows, **extras):
    """rows: (group_id, traj_id, t, reward) tuples; state keys are irrelevant here."""
    records = [dict(group_id=g, traj_id=tr, t=t, reward=r, state_key=f"s{tr}-{t}") for g, tr, t, r in rows]
    for name, column in extras.items():
        for record, value in zip(records, column):
            record[name] = value
    return StepBatch.from_records(records)


# group 0: traj 0 returns 1 (two steps), traj 1 returns 0 (three steps), traj 2 returns 1 (one step)
# group 1: traj 3 alone, returns 0.5
ROWS = [(0, 0, 0, 0.0), (0, 0, 1, 1.0), (0, 1, 0, 0.0), (0, 1, 1, 0.0), (0, 1, 2, 0.0), (0, 2, 0, 1.0),
        (1, 3, 0, 0.5)]


def test_registry_lists_every_estimator():
    assert {"gae", "gigpo", "grpo", "reinforce_pp", "rloo"} <= set(credit.names())


def test_grpo_mean_std_by_hand():
    # group 0 returns [1, 0, 1]: mean 2/3, Bessel std sqrt(1/3); singleton group: mean 0, std 1
    std = math.sqrt(1 / 3)
    up, down = (1 / 3) / (std + EPS), (-2 / 3) / (std + EPS)
    expected = [up, up, down, down, down, up, 0.5 / (1 + EPS)]
    np.testing.assert_allclose(credit.get("grpo")(make_batch(ROWS)), expected, rtol=1e-9)


def test_grpo_mean_only_by_hand():
    expected = [1 / 3, 1 / 3, -2 / 3, -2 / 3, -2 / 3, 1 / 3, 0.5]
    np.testing.assert_allclose(credit.get("grpo")(make_batch(ROWS), norm="mean"), expected, rtol=1e-9)


def test_grpo_all_equal_returns_give_zero():
    rows = [(0, 0, 0, 1.0), (0, 1, 0, 0.0), (0, 1, 1, 1.0)]
    np.testing.assert_allclose(credit.get("grpo")(make_batch(rows)), 0.0, atol=1e-12)


def test_grpo_rejects_unknown_norm():
    with pytest.raises(ValueError, match="norm"):
        credit.get("grpo")(make_batch(ROWS), norm="std")


@pytest.mark.parametrize("name", ["grpo", "rloo", "reinforce_pp", "gigpo"])
def test_row_order_does_not_matter(name):
    batch = make_batch(ROWS)
    perm = np.random.default_rng(0).permutation(len(ROWS))
    shuffled = make_batch([ROWS[i] for i in perm])
    fn = credit.get(name)
    np.testing.assert_allclose(fn(shuffled), fn(batch)[perm], rtol=1e-12)


@pytest.mark.parametrize("offset", [0, -7, 10**12])
def test_layout_sorts_by_trajectory_then_t_for_any_id_range(offset):
    rng = np.random.default_rng(1)
    pairs = [(traj + offset, t) for traj in range(20) for t in range(15)]
    pairs = [pairs[i] for i in rng.permutation(len(pairs))]
    batch = StepBatch.from_records([dict(group_id=0, traj_id=a, t=b, reward=0.0, state_key="s") for a, b in pairs])
    order = TrajectoryLayout.of(batch).order
    np.testing.assert_array_equal(order, np.lexsort(([b for _, b in pairs], [a for a, _ in pairs])))


def test_duplicated_step_is_refused():
    with pytest.raises(ValueError, match="appears twice"):
        credit.get("grpo")(make_batch(ROWS + [(0, 0, 1, 1.0)]))


def test_trajectory_in_two_groups_is_refused():
    with pytest.raises(ValueError, match="group_id"):
        credit.get("rloo")(make_batch([(0, 0, 0, 1.0), (1, 0, 1, 0.0)]))


def test_rloo_by_hand():
    # traj 0: 1 - mean(0, 1) = 0.5; traj 1: 0 - mean(1, 1) = -1; traj 2: 0.5; lone traj 3: 0
    expected = [0.5, 0.5, -1.0, -1.0, -1.0, 0.5, 0.0]
    np.testing.assert_allclose(credit.get("rloo")(make_batch(ROWS)), expected, rtol=1e-12)


def test_reinforce_pp_by_hand():
    # gamma 0.5: traj 0 rewards [0, 1] -> G [0.5, 1]; traj 1 reward [1] -> G [1]
    # batch mean 5/6, Bessel std sqrt(1/12)
    rows = [(0, 0, 0, 0.0), (0, 0, 1, 1.0), (1, 1, 0, 1.0)]
    std = math.sqrt(1 / 12)
    expected = [(0.5 - 5 / 6) / (std + EPS), (1 - 5 / 6) / (std + EPS), (1 - 5 / 6) / (std + EPS)]
    np.testing.assert_allclose(credit.get("reinforce_pp")(make_batch(rows), gamma=0.5), expected, rtol=1e-9)


def test_reinforce_pp_single_step_batch_keeps_its_return():
    np.testing.assert_allclose(credit.get("reinforce_pp")(make_batch([(0, 0, 0, 2.0)])), [2.0 / (1 + EPS)])


def test_empty_batch_gives_empty_advantages():
    empty = StepBatch.from_records([])
    for name in ["grpo", "rloo", "reinforce_pp", "gigpo"]:
        assert credit.get(name)(empty).shape == (0,)
