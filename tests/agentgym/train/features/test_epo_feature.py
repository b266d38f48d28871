"""EPO's loss term in the update: its micro-batch pieces add up to the whole mini-batch exactly."""

import copy

import pytest
import torch

from agentgym.train.config import TrainConfig
from agentgym.train.features.epo.feature import EPOLoss
from agentgym.train.features.epo.regularizer import EPORegularizer
from agentgym.train.update import UpdateSample, ppo_update, score_no_grad


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    from policies.hf import HFPolicy
    from policies.tiny import TinyConfig, build_tiny_model

    cfg = TinyConfig(vocab_size=512, hidden_size=64, num_layers=1, num_heads=1, num_kv_heads=1,
                     intermediate_size=128, corpus_episodes=10)
    return HFPolicy.from_pretrained(str(build_tiny_model(tmp_path_factory.mktemp("m") / "model", cfg=cfg)),
                                    device="cpu")


def _samples(policy):
    gen = torch.Generator().manual_seed(0)
    vocab = len(policy.tokenizer)
    samples = []
    for i in range(6):  # three trajectories of two steps, responses of different lengths
        prompt = torch.randint(5, vocab, (7 + i,), generator=gen).tolist()
        response = torch.randint(5, vocab, (2 + i % 3,), generator=gen).tolist()
        samples.append(UpdateSample(prompt, response, [], advantage=(-1.0) ** i * 0.5, traj_id=i // 2))
    for sample, logprobs in zip(samples, score_no_grad(policy, samples, 8)):
        sample.old_logprobs = [lp - 0.05 for lp in logprobs]  # ratios away from 1
    return samples


def _update(policy, samples, micro_batch_size):
    policy = copy.deepcopy(policy)
    regularizer = EPORegularizer(coef=0.01, kappa_l=0.5, kappa_r=1.5, total_iterations=4)
    regularizer._history_sum, regularizer._history_count = 3.0, 1  # a reference entropy, so smoothing is on
    optimizer = torch.optim.SGD(policy.model.parameters(), lr=0.1)
    settings = TrainConfig(mini_batch_size=6, micro_batch_size=micro_batch_size, kl_coef=0.0)
    metrics = ppo_update(policy, optimizer, samples, settings, torch.Generator().manual_seed(1),
                         [EPOLoss(regularizer)], iteration=1)
    return policy, metrics


def test_micro_batches_add_up_to_the_mini_batch(policy):
    samples = _samples(policy)
    whole, whole_metrics = _update(policy, samples, micro_batch_size=6)
    split, split_metrics = _update(policy, samples, micro_batch_size=2)
    for a, b in zip(whole.model.parameters(), split.model.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    for key in ("loss/epo", "loss/epo_entropy", "loss/epo_smooth", "loss/epo_beta", "loss/epo_reference"):
        assert split_metrics[key] == pytest.approx(whole_metrics[key], abs=1e-6), key
    assert whole_metrics["loss/epo_reference"] == 3.0  # a gauge: kept, not summed over micro-batches
    assert whole_metrics["loss/epo_beta"] == pytest.approx(1 + torch.exp(torch.tensor(-3.0 * 1 / 2)).item())
