"""HGPO: hand-worked batches, and the vectorised estimator against a loop over the paper's definition."""

import itertools
from collections import defaultdict

import numpy as np
import pytest

from agentgym import StepBatch, credit
from agentgym.credit.gigpo import gigpo_parts
from agentgym.credit.hgpo import hgpo_levels
from agentgym.credit.penalty import COLUMN

EPS = 1e-6
NEAR_ONE = 0.5 / (0.5 + EPS)  # two members with returns 1 and 0: population std 0.5


def trajectories(*specs, group=0, first_id=0):
    """specs: (states, rewards) per trajectory of one group -> records."""
    records = []
    for i, (states, rewards) in enumerate(specs):
        for t, (state, reward) in enumerate(zip(states, rewards)):
            records.append(dict(group_id=group, traj_id=first_id + i, t=t, reward=reward, state_key=state))
    return records


def test_deeper_shared_history_weighs_more():
    # A B C (return 1) and D B C (return 0): B shares 1 state, C shares 2 (B C), no level shares A B C
    batch = StepBatch.from_records(trajectories(("ABC", [0, 0, 1]), ("DBC", [0, 0, 0])))
    levels = hgpo_levels(batch, gamma=1.0)
    np.testing.assert_array_equal(levels.size, [[1, 2, 2, 1, 2, 2], [0, 1, 2, 0, 1, 2], [0, 0, 1, 0, 0, 1]])
    at_b = 2 * NEAR_ONE / (2 + EPS)  # only level 1 (w = 2) votes
    at_c = (2 + 3) * NEAR_ONE / (2 + 3 + EPS)  # levels 1 and 2 (w = 2, 3) vote, both +-NEAR_ONE
    np.testing.assert_allclose(credit.get("hgpo")(batch, gamma=1.0), [0, at_b, at_c, 0, -at_b, -at_c], rtol=1e-12)


def test_levels_that_disagree_are_averaged_by_weight():
    # trajectories 0 and 1 reach X through P; trajectory 2 through Q. Returns from X: 1, 0, 0.5 (gamma 1)
    batch = StepBatch.from_records(trajectories(("PX", [0, 1.0]), ("PX", [0, 0.0]), ("QX", [0, 0.5])))
    # level 1 at X: {1, 0, 0.5}, mean 0.5, population std sqrt(1/6); level 2 at X: {1, 0} (P X), mean 0.5, std 0.5
    std1 = np.sqrt(1 / 6)
    l1 = np.array([0.5, -0.5, 0.0]) / (std1 + EPS)
    l2 = np.array([0.5, -0.5]) / (0.5 + EPS)
    adv = credit.get("hgpo")(batch, gamma=1.0, alpha=2.0)  # weights (k + 1)^2: 4 and 9
    x_rows = [1, 3, 5]
    expected_x = [(4 * l1[0] + 9 * l2[0]) / (13 + EPS), (4 * l1[1] + 9 * l2[1]) / (13 + EPS), 0.0]  # l1 = 0 gives no vote
    np.testing.assert_allclose(adv[x_rows], expected_x, rtol=1e-12)
    # the first steps: P shared by trajectories 0 and 1 (returns 1 and 0), Q alone
    np.testing.assert_allclose(adv[[0, 2, 4]], [4 * NEAR_ONE / (4 + EPS), -4 * NEAR_ONE / (4 + EPS), 0], rtol=1e-12)


def test_base_group_adds_the_trajectory_advantage_as_level_zero():
    batch = StepBatch.from_records(trajectories(("AB", [0, 1.0]), ("AC", [0, 0.0])))
    # level 0: step-sample scores [1, 1, 0, 0]: mean 0.5, Bessel std sqrt(1/3) (verl-agent's trajectory term)
    base = 0.5 / (np.sqrt(1 / 3) + EPS)
    # level 1 only at A (B and C are alone): +-NEAR_ONE with weight 2
    expected = [(base + 2 * NEAR_ONE) / (3 + EPS), base / (1 + EPS), -(base + 2 * NEAR_ONE) / (3 + EPS), -base / (1 + EPS)]
    np.testing.assert_allclose(credit.get("hgpo")(batch, gamma=1.0, base_group=True), expected, rtol=1e-12)
    np.testing.assert_allclose(credit.get("hgpo")(batch, gamma=1.0), [2 * NEAR_ONE / (2 + EPS), 0, -2 * NEAR_ONE / (2 + EPS), 0])


def test_a_gap_in_t_ends_the_shared_history_and_penalties_are_subtracted_after_discounting():
    records = trajectories(("ABC", [0, 0, 1]), ("ABC", [0, 0, 0]))
    batch = StepBatch.from_records([r for r in records if not (r["traj_id"] == 1 and r["t"] == 1)])
    levels = hgpo_levels(batch, gamma=1.0)
    c_rows = [2, 4]  # C in each trajectory; trajectory 1 lost its step at t = 1
    np.testing.assert_array_equal(levels.size[:, c_rows], [[2, 2], [1, 0], [1, 0]])  # A B C alone at level 3
    full = StepBatch.from_records(records)
    penalised = full.with_extras(**{COLUMN: [0, 0, 0, 0.4, 0, 0]})
    # gamma 0.5: returns at A are 0.25 vs 0 - 0.4; at B 0.5 vs 0 (the penalty is not discounted into other steps)
    levels = hgpo_levels(penalised, gamma=0.5)
    np.testing.assert_allclose(levels.advantage[0, [0, 3]], [0.325 / (0.325 + EPS), -0.325 / (0.325 + EPS)])
    np.testing.assert_allclose(levels.advantage[0, [1, 4]], [0.25 / (0.25 + EPS), -0.25 / (0.25 + EPS)])


def test_without_history_hgpo_is_gigpos_step_term():
    rng = np.random.default_rng(3)
    records = []
    for g in range(4):
        specs = [(rng.choice(list("abc"), size=rng.integers(1, 6)), rng.integers(0, 2, size=6).astype(float))
                 for _ in range(4)]
        records += trajectories(*specs, group=g, first_id=4 * g)
    batch = StepBatch.from_records(records)
    step_term = gigpo_parts(batch, gamma=0.9, norm="mean").step_adv
    np.testing.assert_allclose(credit.get("hgpo")(batch, gamma=0.9, history_len=0, norm="mean"), step_term,
                               rtol=1e-5, atol=1e-12)


def reference_hgpo(records, gamma, history_len, alpha, norm, eps):
    """A direct loop over the definition: groups keyed by (episode group, last k states), k = 1..K+1."""
    by_traj = defaultdict(list)
    for i, r in enumerate(records):
        by_traj[r["traj_id"]].append((r["t"], i))
    returns, history = np.zeros(len(records)), {}
    for steps in by_traj.values():
        steps.sort()
        running = 0.0
        for _t, i in reversed(steps):
            running = records[i]["reward"] + gamma * running
            returns[i] = running
        states = [records[i]["state_key"] for _, i in steps]
        for pos, (_, i) in enumerate(steps):
            history[i] = states[: pos + 1]
    items = defaultdict(list)
    for k in range(1, history_len + 2):
        groups = defaultdict(list)
        for i, r in enumerate(records):
            if len(history[i]) >= k:
                groups[(r["group_id"], tuple(history[i][-k:]))].append(i)
        for members in groups.values():
            if len(members) < 2:
                continue
            values = returns[members]
            centred = values - values.mean()
            scores = centred / (values.std() + eps) if norm == "mean_std" else centred
            if np.ptp(values) == 0:
                scores = np.zeros(len(members))
            for i, a in zip(members, scores):
                items[i].append((k, a))
    out = np.zeros(len(records))
    for i, pairs in items.items():
        weights = np.array([(k + 1) ** alpha for k, a in pairs if a != 0])
        values = np.array([a for _, a in pairs if a != 0])
        out[i] = (weights * values).sum() / (weights.sum() + eps) if len(values) else 0.0
    return out


@pytest.mark.parametrize("seed", range(6))
def test_matches_the_loop_over_the_definition_on_random_batches(seed):
    rng = np.random.default_rng(seed)
    records = []
    for g in range(3):
        specs = []
        for _ in range(int(rng.integers(1, 6))):
            length = int(rng.integers(1, 8))
            specs.append(([str(s) for s in rng.choice(["a", "b", "c", "d"], size=length, p=[0.4, 0.3, 0.2, 0.1])],
                          rng.choice([0.0, 0.0, 1.0, 0.5], size=length)))
        records += trajectories(*specs, group=g, first_id=10 * g)
    order = rng.permutation(len(records))  # rows in any order
    records = [records[i] for i in order]
    batch = StepBatch.from_records(records)
    for history_len, alpha, norm in ((2, 1.0, "mean_std"), (3, 0.5, "mean"), (1, 2.0, "mean_std")):
        expected = reference_hgpo(records, 0.95, history_len, alpha, norm, EPS)
        got = credit.get("hgpo")(batch, gamma=0.95, history_len=history_len, alpha=alpha, norm=norm)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_diagnostics_report_each_level():
    batch = StepBatch.from_records(trajectories(("ABC", [0, 0, 1]), ("DBC", [0, 0, 0])))
    adv = credit.get("hgpo")(batch, gamma=1.0)
    stats = credit.DIAGNOSTICS.get("hgpo")(batch, adv, gamma=1.0)
    assert stats["credit/hgpo_level1_shared_frac"] == pytest.approx(4 / 6)
    assert stats["credit/hgpo_level2_shared_frac"] == pytest.approx(2 / 6)
    assert stats["credit/hgpo_level3_shared_frac"] == 0.0
    assert stats["credit/hgpo_level1_mean_size"] == 2.0
    assert stats["credit/hgpo_zero_adv_frac"] == pytest.approx(2 / 6)


def test_bad_settings_are_refused():
    batch = StepBatch.from_records(trajectories(("AB", [0, 1.0])))
    with pytest.raises(ValueError, match="history_len"):
        credit.get("hgpo")(batch, history_len=-1)
    with pytest.raises(ValueError, match="norm"):
        credit.get("hgpo")(batch, norm="std")
    assert credit.get("hgpo")(batch.subset(np.zeros(2, dtype=bool))).shape == (0,)


def test_base_group_votes_do_not_depend_on_row_order():
    """Issue 43: one-step rollouts 0.7 (s), 0.1 (u), 0.3 (u), 0.1 (s). The 0.3 rollout sits exactly at its
    base group's mean (0.3), so its base vote is 0 and does not count; its level-1 group [0.1, 0.3] gives +1
    (population std 0.1) with weight 2. Before, float rounding of the mean made that base vote +-1e-17 in some
    row orders, which counted with weight 1: 0.667 instead of 1.0."""
    rows = [dict(group_id=0, traj_id=i, t=0, reward=r, state_key=s)
            for i, (r, s) in enumerate([(0.7, "s"), (0.1, "u"), (0.3, "u"), (0.1, "s")])]
    batch = StepBatch.from_records(rows)
    expected = 2 * (0.1 / (0.1 + EPS)) / (2 + EPS)
    for perm in itertools.permutations(range(4)):
        perm = np.array(perm)
        adv = credit.get("hgpo")(batch.subset(perm), base_group=True)[np.argsort(perm)]
        assert adv[2] == pytest.approx(expected, rel=1e-12)
        np.testing.assert_allclose(adv, credit.get("hgpo")(batch, base_group=True), rtol=0, atol=1e-12)
