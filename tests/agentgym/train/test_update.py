"""The update, by hand: truncated importance weights, length-sorted micro-batches, and copies of a (prompt,
response) pair scored once."""

import math

import pytest
import torch

from agentgym.train.update import UpdateSample, _tis_weights


def _sample(old, rollout):
    return UpdateSample(prompt_ids=[1], response_ids=[2] * len(old), old_logprobs=old, advantage=1.0,
                        rollout_logprobs=rollout)


def test_tis_weights_are_truncated_ratios_of_trainer_to_engine_probabilities():
    micro = [_sample([-1.0, -1.0], [-1.5, -0.2]), _sample([-2.0], None)]  # the second: the trainer sampled it
    old = torch.tensor([[-1.0, -1.0], [-2.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    weights = _tis_weights(micro, old, mask, cap=1.5)
    # exp(-1 - -1.5) = 1.65 -> capped at 1.5; exp(-1 - -0.2) = exp(-0.8); no engine log-probs -> 1; padding -> 0
    torch.testing.assert_close(weights, torch.tensor([[1.5, math.exp(-0.8)], [1.0, 0.0]]))


def test_tis_needs_no_engine_logprobs_to_be_a_no_op():
    micro = [_sample([-0.5, -0.7], None)]
    weights = _tis_weights(micro, torch.tensor([[-0.5, -0.7]]), torch.ones(1, 2), cap=2.0)
    assert weights.tolist() == [[1.0, 1.0]]


@pytest.mark.parametrize("agg", ["token-mean", "seq-mean-token-mean"])
def test_sorting_micro_batches_by_length_leaves_the_gradient_unchanged(micro_model, agg):
    from agentgym.train.config import TrainConfig
    from agentgym.train.update import ppo_update
    from policies.hf import HFPolicy

    grads = []
    for size in (1, 2):  # micro-batches of one sample (no padding at all) and of two (sorted pairs)
        policy = HFPolicy.from_pretrained(micro_model, device="cpu")
        samples = [UpdateSample(policy.encode_prompts([[{"role": "user", "content": "x " * n}]])[0],
                                policy.encode_response("<action>north</action>"), [], float(n % 3 - 1))
                   for n in (9, 1, 5, 3)]
        for s in samples:
            s.old_logprobs = [-1.0] * len(s.response_ids)
        settings = TrainConfig(micro_batch_size=size, mini_batch_size=4, loss_agg=agg, kl_coef=0.0, max_grad_norm=1e9)
        optimizer = torch.optim.SGD(policy.model.parameters(), lr=0.0)  # lr 0: read the gradient, move nothing
        ppo_update(policy, optimizer, samples, settings, torch.Generator().manual_seed(0))
        grads.append(torch.cat([p.grad.flatten() for p in policy.model.parameters() if p.grad is not None]))
    torch.testing.assert_close(grads[0], grads[1], atol=1e-6, rtol=1e-4)


def _scored_samples(policy):
    """Four step samples with advantages of both signs and no old log-probs yet."""
    return [UpdateSample(policy.encode_prompts([[{"role": "user", "content": "x " * n}]])[0],
                         policy.encode_response("<action>north</action>"), None, float(n % 3 - 1))
            for n in (9, 1, 5, 3)]


def test_an_update_of_one_optimizer_step_takes_the_old_log_probs_from_its_own_forward(micro_model):
    """The same gradient as with old log-probs rescored beforehand (ratio 1 either way); the gaps to the
    engine's log-probs are reported from that forward."""
    from agentgym.train.config import TrainConfig
    from agentgym.train.update import ppo_update, score_no_grad
    from policies.hf import HFPolicy

    settings = TrainConfig(micro_batch_size=2, mini_batch_size=4, kl_coef=0.0, max_grad_norm=1e9)
    grads, filled = [], []
    for rescored in (True, False):
        policy = HFPolicy.from_pretrained(micro_model, device="cpu")
        samples = _scored_samples(policy)
        trainer = score_no_grad(policy, samples, micro_batch_size=1)
        for sample, row in zip(samples, trainer):
            sample.rollout_logprobs = [lp - 0.5 for lp in row]  # an engine 0.5 nats below the trainer on every token
            sample.old_logprobs = row if rescored else None
        optimizer = torch.optim.SGD(policy.model.parameters(), lr=0.0)
        metrics = ppo_update(policy, optimizer, samples, settings, torch.Generator().manual_seed(0))
        grads.append(torch.cat([p.grad.flatten() for p in policy.model.parameters() if p.grad is not None]))
        filled.append([s.old_logprobs for s in samples])
        if rescored:
            assert "rollout/logprob_abs_diff" not in metrics  # the rescoring pass reports the gap, not the update
        else:
            assert metrics["rollout/logprob_abs_diff"] == pytest.approx(0.5, abs=1e-5)
            assert metrics["rollout/logprob_abs_diff_max"] == pytest.approx(0.5, abs=1e-5)
            assert metrics["loss/clip_frac"] == 0.0  # the ratio is exactly 1
    torch.testing.assert_close(grads[0], grads[1], atol=1e-6, rtol=1e-4)
    for rescored_row, own_row in zip(*filled):  # the update filled in what rescoring would have given
        torch.testing.assert_close(torch.tensor(own_row), torch.tensor(rescored_row), atol=1e-5, rtol=0)


@pytest.mark.parametrize("settings", [{"mini_batch_size": 2}, {"ppo_epochs": 2}])
def test_an_update_of_several_optimizer_steps_refuses_samples_without_old_log_probs(micro_model, settings):
    from agentgym.train.config import TrainConfig
    from agentgym.train.update import ppo_update
    from policies.hf import HFPolicy

    policy = HFPolicy.from_pretrained(micro_model, device="cpu")
    config = TrainConfig(**{"micro_batch_size": 2, "mini_batch_size": 4, "kl_coef": 0.0, **settings})
    optimizer = torch.optim.SGD(policy.model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="4 samples have no old log-probs.*rescore them first"):
        ppo_update(policy, optimizer, _scored_samples(policy), config, torch.Generator().manual_seed(0))


class RowCounter:
    """The policy, counting the rows its ``score`` runs."""

    def __init__(self, policy):
        self.policy, self.model, self.rows = policy, policy.model, 0

    def score(self, prompt_ids, response_ids, with_entropy=False):
        self.rows += len(prompt_ids)
        return self.policy.score(prompt_ids, response_ids, with_entropy=with_entropy)


def _repeated_samples(policy):
    """Six step samples, three distinct (prompt, response) pairs, the copies with advantages of both signs, out of
    order."""
    def sample(n, action, advantage):
        return UpdateSample(policy.encode_prompts([[{"role": "user", "content": "x " * n}]])[0],
                            policy.encode_response(f"<action>{action}</action>"), None, advantage)
    return [sample(4, "north", 1.0), sample(2, "west", -0.5), sample(4, "north", -0.25), sample(4, "south", 0.75),
            sample(2, "west", 2.0), sample(4, "north", 0.5)]


@pytest.mark.parametrize("agg", ["token-mean", "seq-mean-token-mean"])
def test_copies_of_a_pair_are_scored_once_and_the_gradient_is_every_samples(micro_model, agg):
    """One optimizer step (ratio 1, no clipping): the gradient is -sum_i A_i grad log pi(response_i) over all six
    samples, aggregated as ``agg`` says; the update runs 3 rows instead of 6."""
    from agentgym.train.config import TrainConfig
    from agentgym.train.update import ppo_update
    from policies.hf import HFPolicy

    policy = HFPolicy.from_pretrained(micro_model, device="cpu")
    samples = _repeated_samples(policy)
    logp, _, mask = policy.score([s.prompt_ids for s in samples], [s.response_ids for s in samples])  # all six
    adv = torch.tensor([s.advantage for s in samples])[:, None]
    if agg == "token-mean":
        expected_loss = -(adv * logp * mask).sum() / mask.sum()
    else:
        expected_loss = -((adv * logp * mask).sum(1) / mask.sum(1)).mean()
    expected_loss.backward()
    expected = torch.cat([p.grad.flatten() for p in policy.model.parameters() if p.grad is not None])
    policy.model.zero_grad(set_to_none=True)

    counter = RowCounter(policy)
    settings = TrainConfig(micro_batch_size=6, mini_batch_size=6, loss_agg=agg, kl_coef=0.0, max_grad_norm=1e9)
    metrics = ppo_update(counter, torch.optim.SGD(policy.model.parameters(), lr=0.0), samples, settings,
                         torch.Generator().manual_seed(0))
    got = torch.cat([p.grad.flatten() for p in policy.model.parameters() if p.grad is not None])
    assert counter.rows == 3
    assert metrics["update/distinct_pair_frac"] == 0.5
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-4)
    for sample, row, m in zip(samples, logp.detach(), mask):  # each copy got its pair's own log-probs
        torch.testing.assert_close(torch.tensor(sample.old_logprobs), row[:int(m.sum())], atol=1e-5, rtol=0)


def test_scoring_without_gradients_runs_each_distinct_pair_once(micro_model):
    from agentgym.train.update import score_no_grad
    from policies.hf import HFPolicy

    policy = HFPolicy.from_pretrained(micro_model, device="cpu")
    samples = _repeated_samples(policy)
    counter = RowCounter(policy)
    scored = score_no_grad(counter, samples, micro_batch_size=2)
    assert counter.rows == 3
    one_by_one = [score_no_grad(policy, [s], micro_batch_size=1)[0] for s in samples]
    for row, alone in zip(scored, one_by_one):
        torch.testing.assert_close(torch.tensor(row), torch.tensor(alone), atol=1e-5, rtol=0)
    assert scored[0] is not scored[2]  # copies are separate lists: a caller may change one
