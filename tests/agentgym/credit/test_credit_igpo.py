"""IGPO's advantages on a small two-group batch worked by hand (turn reward r = reward + info_gain).

group 0: traj 0 rewards [0, 0, 1], info gains [1, -1, 0] -> r = [1, -1, 1]
         traj 1 rewards [0, 0],    info gains [-1, 0]    -> r = [-1, 0]
         pool [1, -1, 1, -1, 0]: mean 0, Bessel std sqrt(4 / 4) = 1
group 1: traj 2 rewards [0, 1],    info gains [3, 0]     -> r = [3, 1]
         traj 3 rewards [2],       info gains [0]        -> r = [2]
         pool [3, 1, 2]: mean 2, Bessel std sqrt(2 / 2) = 1
"""

import numpy as np
import pytest

from agentgym import credit
from agentgym.core.types import StepBatch

ROWS = [  # (group, traj, t, reward, info_gain)
    (0, 0, 0, 0.0, 1.0), (0, 0, 1, 0.0, -1.0), (0, 0, 2, 1.0, 0.0),
    (0, 1, 0, 0.0, -1.0), (0, 1, 1, 0.0, 0.0),
    (1, 2, 0, 0.0, 3.0), (1, 2, 1, 1.0, 0.0),
    (1, 3, 0, 2.0, 0.0),
]
SHUFFLE = [5, 2, 7, 0, 4, 1, 6, 3]  # rows in any order give the same advantage per row
IN_ORDER = list(range(len(ROWS)))


def _batch(order=IN_ORDER, with_gain=True):
    records = []
    for i in order:
        g, traj, t, reward, gain = ROWS[i]
        record = {"group_id": g, "traj_id": traj, "t": t, "reward": reward, "state_key": f"s{t}"}
        records.append({**record, "info_gain": gain} if with_gain else record)
    return StepBatch.from_records(records)


def _check(expected, **params):
    for order in (IN_ORDER, SHUFFLE):
        adv = credit.get("igpo")(_batch(order), **params)
        assert adv == pytest.approx([expected[i] for i in order], rel=1e-5, abs=1e-5)


def test_pooled_normalisation_then_sum_to_the_end():
    # r~ = r (mean 0, std 1) in group 0; r~ = r - 2 = [1, -1], [0] in group 1
    # traj 0: A_2 = 1, A_1 = -1 + 1 = 0, A_0 = 1 + 0 = 1; traj 1: A_1 = 0, A_0 = -1
    # traj 2: A_1 = -1, A_0 = 1 - 1 = 0; traj 3: 0
    _check([1, 0, 1, -1, 0, 0, -1, 0])
    _check([1, 0, 1, -1, 0, 0, -1, 0], normalise="pooled", gamma=1.0)


def test_pooled_with_discount():
    # gamma 0.5. traj 0: A_2 = 1, A_1 = -1 + 0.5 = -0.5, A_0 = 1 + 0.5 * -0.5 = 0.75
    # traj 1: A_1 = 0, A_0 = -1; traj 2: A_1 = -1, A_0 = 1 + 0.5 * -1 = 0.5; traj 3: 0
    _check([0.75, -0.5, 1, -1, 0, 0.5, -1, 0], gamma=0.5)


def test_position_mean_subtracts_the_groups_mean_return_at_each_turn_index():
    # raw returns G: traj 0 [1, 0, 1], traj 1 [-1, 0], traj 2 [4, 1], traj 3 [2]
    # group 0 means: t0 (1 - 1) / 2 = 0, t1 (0 + 0) / 2 = 0, t2 1 (traj 0 alone)
    # group 1 means: t0 (4 + 2) / 2 = 3, t1 1 (traj 2 alone); no std division
    _check([1, 0, 0, -1, 0, 1, 0, -1], normalise="position_mean")


def test_position_mean_with_discount():
    # gamma 0.5: G traj 0 [1 + 0.5 * -0.5, -1 + 0.5 * 1, 1] = [0.75, -0.5, 1], traj 1 [-1, 0]
    # means t0 (0.75 - 1) / 2 = -0.125, t1 (-0.5 + 0) / 2 = -0.25, t2 1
    # G traj 2 [3 + 0.5 * 1, 1] = [3.5, 1], traj 3 [2]; means t0 2.75, t1 1
    _check([0.875, -0.25, 0, -0.875, 0.25, 0.75, 0, -0.75], normalise="position_mean", gamma=0.5)


def test_lone_step_keeps_its_turn_reward_under_pooled():
    batch = StepBatch.from_records([{"group_id": 0, "traj_id": 0, "t": 0, "reward": 0.5, "state_key": "s",
                                     "info_gain": 0.0}])
    assert credit.get("igpo")(batch) == pytest.approx([0.5], rel=1e-5)  # mean 0, std 1 for a pool of one


def test_missing_column_is_a_clear_error():
    with pytest.raises(ValueError, match="credit=igpo needs the information-gain feature's column"):
        credit.get("igpo")(_batch(with_gain=False))


@pytest.mark.parametrize("params", [{"normalise": "per_turn"}, {"gamma": 1.5}])
def test_bad_settings_are_refused(params):
    with pytest.raises(ValueError):
        credit.get("igpo")(_batch(), **params)


def test_diagnostics():
    batch = _batch()
    adv = credit.get("igpo")(batch)
    stats = credit.DIAGNOSTICS.get("igpo")(batch, adv)
    # |info_gain| sums to 3 + 3 = 6, |reward| to 1 + 1 + 2 = 4: share 6 / 10; zeros: 4 of the 8 advantages
    assert stats["credit/igpo_info_gain_share"] == pytest.approx(0.6)
    assert stats["credit/igpo_zero_adv_frac"] == pytest.approx(0.5)


def test_does_not_claim_to_read_step_penalties():
    from agentgym.credit.penalty import check_reads_step_penalty

    batch = _batch().with_extras(step_penalty=np.zeros(len(ROWS)))
    with pytest.raises(ValueError, match="does not read"):
        check_reads_step_penalty("igpo", credit.get("igpo"), batch)
