"""Regression tests for credit bugs found in peer frameworks in 2026, each a hand-worked case that fails if
this project had the same bug.

- SkyRL PR #1507: a step's advantage was broadcast onto another step's token positions.
- AReaL PR #1674: intermediate step rewards were overwritten by the normalised final reward.
- verl issue #7244: per-turn-index normalisation becomes an action-dependent (length-dependent) baseline when
  the policy decides how many turns an episode takes.
- verl-agent's HGPO recipe moved ``adjust_batch`` (padding by duplicating samples) after the advantages:
  duplicated samples must never be counted in group statistics.
"""

import numpy as np
import pytest
import torch

from agentgym import StepBatch, credit


def batch_of(rows, **extras):
    """rows: (group_id, traj_id, t, reward, state_key)."""
    records = [dict(group_id=g, traj_id=tr, t=t, reward=r, state_key=k) for g, tr, t, r, k in rows]
    for name, column in extras.items():
        for record, value in zip(records, column):
            record[name] = value
    return StepBatch.from_records(records)


# ---------------------------------------------------------------- SkyRL #1507: each step keeps its own advantage
# Two rollouts of one task share only the first state; traj 0 succeeds. gamma 1, norm mean:
# A_E = +-0.5; A_S at "start": R_0 = 1 vs 0 -> +-0.5; "b" and "c" are alone -> 0.
TWO_STEP_ROWS = [(0, 0, 0, 0.0, "start"), (0, 0, 1, 1.0, "b"), (0, 1, 0, 0.0, "start"), (0, 1, 1, 0.0, "c")]
TWO_STEP_EXPECTED = [1.0, 0.5, -1.0, -0.5]


def test_step_advantages_stay_on_their_own_rows_in_any_row_order():
    batch = batch_of(TWO_STEP_ROWS)
    adv = credit.get("gigpo")(batch, gamma=1.0, norm="mean")
    np.testing.assert_allclose(adv, TWO_STEP_EXPECTED, atol=1e-12)
    # the bug copied the last step's value onto every step of its trajectory: [0.5, 0.5, -0.5, -0.5]
    assert adv[0] != adv[1]
    perm = np.array([3, 0, 2, 1])
    shuffled = credit.get("gigpo")(batch.subset(perm), gamma=1.0, norm="mean")
    np.testing.assert_allclose(shuffled, np.asarray(TWO_STEP_EXPECTED)[perm], atol=1e-12)


def test_each_step_advantage_reaches_only_its_own_response_tokens(micro_model):
    """Two steps of one trajectory, prompts and responses of different lengths, in one micro-batch: the
    update's gradient is the sum of each step's gradient with its own advantage (seq-mean-token-mean), and
    differs from the one with the advantages swapped (what landing on the other step's tokens would do)."""
    from agentgym.train.config import TrainConfig
    from agentgym.train.update import UpdateSample, ppo_update
    from policies.hf import HFPolicy

    policy = HFPolicy.from_pretrained(micro_model, device="cpu")
    steps = [(policy.encode_prompts([[{"role": "user", "content": "you are at the start"}]])[0],
              policy.encode_response("<action>north</action>")),
             (policy.encode_prompts([[{"role": "user", "content": "you moved north " * 6}]])[0],
              policy.encode_response("<action>east east east</action>"))]
    assert len(steps[0][0]) != len(steps[1][0]) and len(steps[0][1]) != len(steps[1][1])

    def gradient(advantages):
        samples = [UpdateSample(p, r, [-1.0] * len(r), a, traj_id=7) for (p, r), a in zip(steps, advantages)
                   if a is not None]
        settings = TrainConfig(micro_batch_size=2, mini_batch_size=len(samples), loss_agg="seq-mean-token-mean",
                               kl_coef=0.0, max_grad_norm=1e9)
        policy.model.zero_grad()
        optimizer = torch.optim.SGD(policy.model.parameters(), lr=0.0)  # lr 0: read the gradient, move nothing
        ppo_update(policy, optimizer, samples, settings, torch.Generator().manual_seed(0))
        return torch.cat([p.grad.flatten().clone() for p in policy.model.parameters() if p.grad is not None])

    together = gradient([1.0, -0.5])
    alone = 0.5 * (gradient([1.0, None]) + gradient([None, -0.5]))  # each step alone, then the mean over the two
    torch.testing.assert_close(together, alone, atol=1e-6, rtol=1e-4)
    swapped = gradient([-0.5, 1.0])
    assert not torch.allclose(together, swapped, atol=1e-4)


# -------------------------------------------------- AReaL #1674: intermediate rewards are not overwritten
def test_intermediate_step_rewards_reach_the_step_returns_and_are_not_overwritten():
    # traj 0 pays -0.2 for its first step, then 1 at the end; traj 1 earns nothing; both visit A, B, C.
    rows = [(0, 0, 0, -0.2, "A"), (0, 0, 1, 0.0, "B"), (0, 0, 2, 1.0, "C"),
            (0, 1, 0, 0.0, "A"), (0, 1, 1, 0.0, "B"), (0, 1, 2, 0.0, "C")]
    batch = batch_of(rows)
    before = batch.reward.copy()
    adv = credit.get("gigpo")(batch, gamma=1.0, norm="mean")
    np.testing.assert_array_equal(batch.reward, before)  # the estimator never rewrites the reward column
    # R(tau) = 0.8 vs 0 -> A_E +-0.4; R_t = [0.8, 1, 1] vs 0 -> A_S = +-[0.4, 0.5, 0.5]
    np.testing.assert_allclose(adv, [0.8, 0.9, 0.9, -0.8, -0.9, -0.9], atol=1e-12)
    # with the bug every step of traj 0 carries the final turn's value: its first two steps would be equal
    # to its last step's; here the -0.2 step differs from the others
    assert adv[0] < adv[1]
    returns = credit.get("reinforce_pp")(batch_of(rows[:3]), gamma=1.0)  # one trajectory: whitened R_t
    g = np.array([0.8, 1.0, 1.0])
    np.testing.assert_allclose(returns, (g - g.mean()) / (g.std(ddof=1) + 1e-6), atol=1e-9)


# --------------------------------------------- verl #7244: a turn index is no baseline when length is chosen
# One task, equal outcomes, lengths the policy chose: traj 0 takes a detour turn, traj 1 succeeds at once.
LENGTH_ROWS = [(0, 0, 0, 0.0, "start"), (0, 0, 1, 1.0, "detour"), (0, 1, 0, 1.0, "start")]


@pytest.mark.parametrize("name, params", [
    ("grpo", {}), ("rloo", {}), ("gigpo", {"gamma": 1.0}), ("hgpo", {"gamma": 1.0}),
    ("reinforce_pp", {"baseline": "group"}), ("igpo", {"normalise": "position_mean"}),
])
def test_equal_outcomes_of_different_lengths_get_no_hidden_length_bonus(name, params):
    batch = batch_of(LENGTH_ROWS, info_gain=[0.0, 0.0, 0.0])
    adv = credit.get(name)(batch, **params)
    np.testing.assert_allclose(adv, 0.0, atol=1e-9)


def test_pooled_igpo_keeps_the_papers_length_bias_as_documented():
    """IGPO's paper pools every turn reward of a group, then sums to the end: each extra turn adds -mean/std.
    Here the pool is [0, 1, 1] (mean 2/3, std 0.577): the detour's first turn gets -0.577 although both
    rollouts succeed. docs/credit.md lists this; ``normalise: position_mean`` does not have it (above)."""
    batch = batch_of(LENGTH_ROWS, info_gain=[0.0, 0.0, 0.0])
    adv = credit.get("igpo")(batch, normalise="pooled")
    z = (np.array([0.0, 1.0, 1.0]) - 2 / 3) / (np.std([0.0, 1.0, 1.0], ddof=1) + 1e-6)
    np.testing.assert_allclose(adv, [z[0] + z[1], z[1], z[2]], atol=1e-9)
    assert adv[0] < 0 < adv[2]


# ------------------------------------- verl-agent HGPO: duplicated samples never enter group statistics
@pytest.mark.parametrize("name, params", [
    ("grpo", {}), ("rloo", {}), ("gigpo", {}), ("hgpo", {}), ("reinforce_pp", {}), ("igpo", {}),
    ("graphgpo", {}), ("oracle", {}),
])
def test_a_batch_padded_by_duplicating_a_step_is_refused(name, params):
    rows = [(0, 0, 0, 1.0, "s"), (0, 1, 0, 0.0, "s")]
    padded = batch_of([*rows, rows[0]], info_gain=[0.0] * 3, traj_success=[True, False, True],
                      expert_steps_left=[1, 1, 1], expert_steps_after=[0, 1, 0])
    with pytest.raises(ValueError, match="appears twice"):
        credit.get(name)(padded, **params)


def test_group_statistics_count_each_rollout_once():
    # had the duplicate been counted, GRPO's group would be [1, 0, 1]: mean 2/3 -> +0.577 / -1.155
    adv = credit.get("grpo")(batch_of([(0, 0, 0, 1.0, "s"), (0, 1, 0, 0.0, "s")]))
    np.testing.assert_allclose(adv, np.array([0.5, -0.5]) / (np.std([1.0, 0.0], ddof=1) + 1e-6), atol=1e-9)
