"""verl-agent-compatible options, on hand-worked batches: step statistics, the step penalty, lone samples,
REINFORCE++ with a group baseline and similarity clustering in row order."""

import math

import numpy as np
import pytest

from agentgym import StepBatch, credit
from agentgym.credit.gigpo import gigpo_parts
from agentgym.credit.penalty import COLUMN, check_reads_step_penalty
from rewards.invalid_action import invalid_action_penalty

EPS = 1e-6


def batch_of(rows, **extras):
    """rows: (group_id, traj_id, t, reward, state_key)."""
    records = [dict(group_id=g, traj_id=tr, t=t, reward=r, state_key=k) for g, tr, t, r, k in rows]
    for name, column in extras.items():
        for record, value in zip(records, column):
            record[name] = value
    return StepBatch.from_records(records)


# Two trajectories of three steps, all rewards 0, sharing only the initial state; traj 0's first response
# had no parsable action. The example: mean norm, gamma 0.95, penalty 0.1.
PENALTY_ROWS = [(0, 0, 0, 0.0, "start"), (0, 0, 1, 0.0, "a1"), (0, 0, 2, 0.0, "a2"),
                (0, 1, 0, 0.0, "start"), (0, 1, 1, 0.0, "b1"), (0, 1, 2, 0.0, "b2")]
FORMAT_VALID = [False, True, True, True, True, True]


def test_penalty_in_the_reward_column_is_paid_by_the_whole_trajectory():
    batch = invalid_action_penalty(batch_of(PENALTY_ROWS, format_valid=FORMAT_VALID), penalty=0.1)
    assert COLUMN not in batch.extras
    adv = credit.get("gigpo")(batch, gamma=0.95, norm="mean")
    # R(tau) = -0.1 vs 0: A_E = -0.05 / +0.05 on every step; R_0 = -0.1 vs 0 at the shared start: A_S = -/+0.05
    np.testing.assert_allclose(adv, [-0.10, -0.05, -0.05, 0.10, 0.05, 0.05], atol=1e-12)


def test_verl_agent_penalty_rule_charges_only_the_invalid_step():
    batch = invalid_action_penalty(batch_of(PENALTY_ROWS, format_valid=FORMAT_VALID), penalty=0.1, mode="step")
    np.testing.assert_array_equal(batch.reward, 0.0)  # the reward column is untouched
    np.testing.assert_allclose(batch.extras[COLUMN], [0.1, 0, 0, 0, 0, 0])
    adv = credit.get("gigpo")(batch, gamma=0.95, norm="mean", episode_stats="step")
    # step-sample scores [-0.1, 0, 0, 0, 0, 0]: mean -1/60; A_E = score + 1/60
    # step returns at the shared start: -0.1 (penalty added after discounting) vs 0: A_S = -/+0.05
    expected = np.array([-0.1 + 1 / 60 - 0.05, 1 / 60, 1 / 60, 1 / 60 + 0.05, 1 / 60, 1 / 60])
    np.testing.assert_allclose(adv, expected, atol=1e-12)
    np.testing.assert_allclose(adv[:3], [-0.1333, 0.0167, 0.0167], atol=5e-5)  # the figures


def test_step_penalties_add_up_across_shapers_and_are_refused_with_trajectory_statistics():
    batch = batch_of(PENALTY_ROWS, format_valid=FORMAT_VALID, action_valid=[True, False, True, True, True, True])
    batch = invalid_action_penalty(batch, penalty=0.1, mode="step")
    batch = invalid_action_penalty(batch, penalty=0.5, on="any", mode="step")
    np.testing.assert_allclose(batch.extras[COLUMN], [0.6, 0.5, 0, 0, 0, 0])
    for name in ("gigpo", "grpo", "rloo"):
        with pytest.raises(ValueError, match="episode_stats='step'"):
            credit.get(name)(batch)
    with pytest.raises(ValueError, match="mode must be one of"):
        invalid_action_penalty(batch, mode="after")


def test_trainer_refuses_a_step_penalty_an_estimator_would_ignore():
    batch = invalid_action_penalty(batch_of(PENALTY_ROWS, format_valid=FORMAT_VALID), mode="step")
    with pytest.raises(ValueError, match="does not read the 'step_penalty'"):
        check_reads_step_penalty("gae", credit.get("gae"), batch)
    for name in ("gigpo", "grpo", "rloo", "hgpo", "reinforce_pp"):
        check_reads_step_penalty(name, credit.get(name), batch)  # these implement the rule


# group 0: traj 0 one step (return 1), traj 1 three steps (return 0); group 1: traj 2 alone, one step, return 2
STATS_ROWS = [(0, 0, 0, 1.0, "x"), (0, 1, 0, 0.0, "y0"), (0, 1, 1, 0.0, "y1"), (0, 1, 2, 0.0, "y2"),
              (1, 2, 0, 2.0, "z")]


def test_grpo_step_statistics_weigh_long_trajectories_more():
    batch = batch_of(STATS_ROWS)
    # trajectory statistics: [1, 0] -> mean 0.5, Bessel std sqrt(0.5)
    half = 0.5 / (math.sqrt(0.5) + EPS)
    np.testing.assert_allclose(credit.get("grpo")(batch), [half, -half, -half, -half, 2 / (1 + EPS)], rtol=1e-9)
    # step statistics: [1, 0, 0, 0] -> mean 0.25, Bessel std sqrt((0.5625 + 3 * 0.0625) / 3) = 0.5
    step = credit.get("grpo")(batch, episode_stats="step")
    np.testing.assert_allclose(step, [0.75 / (0.5 + EPS), *[-0.25 / (0.5 + EPS)] * 3, 2 / (1 + EPS)], rtol=1e-9)
    parts = gigpo_parts(batch, episode_stats="step")  # GRPO is GiGPO's episode term
    np.testing.assert_allclose(parts.episode_adv, step, rtol=1e-12)


def test_rloo_step_statistics_and_lone_samples():
    batch = batch_of(STATS_ROWS)
    np.testing.assert_allclose(credit.get("rloo")(batch), [1, -1, -1, -1, 0])
    # leave-one-out over the step samples [1, 0, 0, 0]: 1 - 0 = 1; 0 - 1/3
    np.testing.assert_allclose(credit.get("rloo")(batch, episode_stats="step"), [1, -1 / 3, -1 / 3, -1 / 3, 0])
    np.testing.assert_allclose(credit.get("rloo")(batch, episode_stats="step", lone="raw"),
                               [1, -1 / 3, -1 / 3, -1 / 3, 2])  # verl: a group of one keeps its score
    lone_long = batch_of([(0, 0, t, 1.0, f"s{t}") for t in range(3)])  # one trajectory, three samples of R = 3
    np.testing.assert_allclose(credit.get("rloo")(lone_long, episode_stats="step", lone="raw"), [0, 0, 0])
    with pytest.raises(ValueError, match="lone"):
        credit.get("rloo")(batch, lone="mean")


def test_reinforce_pp_group_baseline_by_hand():
    batch = batch_of(STATS_ROWS)
    # scores minus the group's step-sample mean: [0.75, -0.25, -0.25, -0.25]; group 1 alone keeps 2
    centred = np.array([0.75, -0.25, -0.25, -0.25, 2.0])
    dev = centred - 0.4  # batch mean 2 / 5
    std = math.sqrt(np.sum(dev**2) / 4)
    np.testing.assert_allclose(credit.get("reinforce_pp")(batch, baseline="group"), dev / (std + EPS), rtol=1e-9)
    penalised = batch.with_extras(**{COLUMN: [0.0, 0.0, 0.3, 0.0, 0.0]})
    # return to go minus the step's own penalty: [1, 0, -0.3, 0, 2], whitened
    g = np.array([1.0, 0.0, -0.3, 0.0, 2.0])
    expected = (g - g.mean()) / (g.std(ddof=1) + EPS)
    np.testing.assert_allclose(credit.get("reinforce_pp")(penalised), expected, rtol=1e-9)


def test_similarity_clusters_follow_the_requested_order():
    # ratio(X, Y) = ratio(Y, Z) = 0.75, ratio(X, Z) = 0.5: the first key met leads its cluster
    x, y, z = "abcdefgh", "abcdefzz", "abcdzzzz"
    rows = [(0, 2, 0, 0.0, z), (0, 1, 0, 1.0, y), (0, 0, 0, 2.0, x)]  # rows in reverse rollout order
    batch = batch_of(rows)
    by_rollout = gigpo_parts(batch, similarity_thresh=0.7).step_group  # x leads, y joins x, z alone
    assert by_rollout[1] == by_rollout[2] != by_rollout[0]
    by_rows = gigpo_parts(batch, similarity_thresh=0.7, similarity_order="rows").step_group  # z leads, y joins z
    assert by_rows[0] == by_rows[1] != by_rows[2]
    with pytest.raises(ValueError, match="similarity_order"):
        gigpo_parts(batch, similarity_thresh=0.7, similarity_order="random")
