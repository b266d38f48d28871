"""PPO loss pieces against hand-worked formulas on small tensors."""

import math

import pytest
import torch

from agentgym.train.losses import aggregate, entropy_bonus, kl_penalty, ppo_policy_loss, value_loss

VALUES = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
MASK = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # third row has no token


@pytest.mark.parametrize(("mode", "expected"), [
    ("token-mean", (1 + 2 + 4) / 3),  # three counted tokens
    ("seq-mean-token-mean", (1.5 + 4) / 2),  # empty row left out
    ("seq-mean-token-sum", (3 + 4) / 2),
])
def test_aggregate_modes(mode, expected):
    assert aggregate(VALUES, MASK, mode).item() == pytest.approx(expected)


def test_aggregate_of_nothing_is_zero_and_bad_mode_is_refused():
    assert aggregate(VALUES, torch.zeros_like(MASK), "seq-mean-token-mean").item() == 0.0
    with pytest.raises(ValueError, match="token-mean"):
        aggregate(VALUES, MASK, "sum")


# one row of five tokens: ratios and per-token advantages
RATIOS = torch.tensor([[1.5, 0.5, 0.5, 5.0, 1.1]])
ADV = torch.tensor([[1.0, 1.0, -1.0, -1.0, -2.0]])
OLD = torch.full_like(RATIOS, -1.0)
ONES = torch.ones_like(RATIOS)


def test_ppo_symmetric_clip_by_hand():
    # per token max(-A r, -A clip(r, 0.8, 1.2)): -1.2 (clipped), -0.5, 0.8 (clipped), 5.0, 2.2
    loss, metrics = ppo_policy_loss(OLD + RATIOS.log(), OLD, ADV, ONES)
    assert loss.item() == pytest.approx((-1.2 - 0.5 + 0.8 + 5.0 + 2.2) / 5, rel=1e-6)
    assert metrics["loss/pg"] == pytest.approx(loss.item())
    assert metrics["loss/clip_frac"] == pytest.approx(2 / 5)
    assert metrics["loss/dual_clip_frac"] == 0.0
    expected_kl = -sum(math.log(r) for r in [1.5, 0.5, 0.5, 5.0, 1.1]) / 5
    assert metrics["loss/approx_kl"] == pytest.approx(expected_kl, rel=1e-6)


def test_ppo_asymmetric_clip_by_hand():
    # clip to [0.9, 1.3]: -1.3, -0.5, 0.9, 5.0, 2.2
    loss, _ = ppo_policy_loss(OLD + RATIOS.log(), OLD, ADV, ONES, clip_low=0.1, clip_high=0.3)
    assert loss.item() == pytest.approx((-1.3 - 0.5 + 0.9 + 5.0 + 2.2) / 5, rel=1e-6)


def test_ppo_reciprocal_clip_is_loops_log_symmetric_bound():
    # LOOP: clamp to [1/1.1, 1.1] whatever clip_low says: -1.1, -0.5, 1/1.1, 5.0, 2.2
    loss, metrics = ppo_policy_loss(OLD + RATIOS.log(), OLD, ADV, ONES, clip_low=0.5, clip_high=0.1,
                                    reciprocal_clip=True)
    assert loss.item() == pytest.approx((-1.1 - 0.5 + 1 / 1.1 + 5.0 + 2.2) / 5, rel=1e-6)
    assert metrics["loss/clip_frac"] == pytest.approx(2 / 5)  # tokens 1 and 3


def test_ppo_dual_clip_bounds_negative_advantages():
    # token 4 (A = -1, r = 5): min(5.0, 3 * 1) = 3; others unchanged
    loss, metrics = ppo_policy_loss(OLD + RATIOS.log(), OLD, ADV, ONES, dual_clip=3.0)
    assert loss.item() == pytest.approx((-1.2 - 0.5 + 0.8 + 3.0 + 2.2) / 5, rel=1e-6)
    assert metrics["loss/dual_clip_frac"] == pytest.approx(1 / 5)
    with pytest.raises(ValueError, match="dual_clip"):
        ppo_policy_loss(OLD, OLD, ADV, ONES, dual_clip=0.5)


def test_ppo_gradient_flows_only_through_unclipped_tokens():
    # token-mean of four tokens: d/dlogp of -A r / 4 = -A r / 4 where unclipped, 0 where clipped
    logprobs = (OLD[:, :4] + RATIOS[:, :4].log()).clone().requires_grad_(True)
    loss, _ = ppo_policy_loss(logprobs, OLD[:, :4], ADV[:, :4], ONES[:, :4])
    loss.backward()
    torch.testing.assert_close(logprobs.grad, torch.tensor([[0.0, -0.5 / 4, 0.0, 5.0 / 4]]))


def test_ppo_broadcasts_step_advantages_and_respects_the_mask():
    # two steps of two tokens; step advantages (2,); the masked token (ratio 10) must not count
    logprobs = torch.log(torch.tensor([[1.0, 10.0], [1.0, 1.0]]))
    mask = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    loss, metrics = ppo_policy_loss(logprobs, torch.zeros(2, 2), torch.tensor([2.0, -1.0]), mask)
    assert loss.item() == pytest.approx((-2.0 + 1.0 + 1.0) / 3)
    assert metrics["loss/clip_frac"] == 0.0


@pytest.mark.parametrize(("kind", "at_plus_one", "at_minus_one"), [
    ("k1", 1.0, -1.0),
    ("k2", 0.5, 0.5),
    ("abs", 1.0, 1.0),
    ("low_var_kl", math.exp(-1) + 1 - 1, math.exp(1) - 1 - 1),  # r - log r - 1 with log r = ref - logp
])
def test_kl_estimators_by_hand(kind, at_plus_one, at_minus_one):
    logprobs, ref = torch.tensor([[-1.0, -2.0]]), torch.tensor([[-2.0, -1.0]])  # logp - ref = +1, -1
    torch.testing.assert_close(kl_penalty(logprobs, ref, kind), torch.tensor([[at_plus_one, at_minus_one]]))


def test_low_var_kl_is_clamped_like_verl():
    assert kl_penalty(torch.tensor([-40.0]), torch.tensor([-10.0]), "low_var_kl").item() == 10.0
    assert kl_penalty(torch.tensor([-1.0]), torch.tensor([-1.0]), "low_var_kl").item() == 0.0
    with pytest.raises(ValueError, match="low_var_kl"):
        kl_penalty(torch.zeros(1), torch.zeros(1), "k4")


def test_entropy_bonus_aggregates_like_the_loss():
    assert entropy_bonus(VALUES, MASK, "seq-mean-token-sum").item() == pytest.approx(3.5)


def test_value_loss_clipped_by_hand():
    values, old = torch.tensor([[1.0, 0.0, 2.0]]), torch.full((1, 3), 0.5)
    returns, mask = torch.tensor([[1.5, 1.0, 0.0]]), torch.ones(1, 3)
    # clipped predictions 0.7, 0.3, 0.7 -> squared errors max(0.25, 0.64), max(1, 0.49), max(4, 0.49)
    loss, metrics = value_loss(values, old, returns, mask, clip=0.2)
    assert loss.item() == pytest.approx(0.5 * (0.64 + 1.0 + 4.0) / 3)
    assert metrics["loss/vf_clip_frac"] == pytest.approx(1 / 3)
    plain, _ = value_loss(values, old, returns, mask, clip=None)
    assert plain.item() == pytest.approx(0.5 * (0.25 + 1.0 + 4.0) / 3)


def test_token_weights_scale_each_tokens_loss_before_aggregation():
    # the unweighted per-token losses of test_ppo_symmetric_clip_by_hand, times truncated IS weights
    weights = torch.tensor([[1.0, 2.0, 0.5, 0.0, 1.0]])
    loss, _ = ppo_policy_loss(OLD + RATIOS.log(), OLD, ADV, ONES, token_weights=weights)
    assert loss.item() == pytest.approx((-1.2 * 1 - 0.5 * 2 + 0.8 * 0.5 + 5.0 * 0 + 2.2 * 1) / 5, rel=1e-6)
