"""The KL reference: a frozen copy of the starting model, or under LoRA the policy's own base (no copy)."""

import pytest
import torch

from agentgym.train.config import TrainConfig
from agentgym.train.features.base import SetupContext
from agentgym.train.features.reference.feature import ReferenceModel
from agentgym.train.update import UpdateSample
from policies.hf import HFPolicy
from policies.tiny import TinyConfig, build_tiny_model

SMALL = TinyConfig(hidden_size=64, num_layers=1, num_heads=1, num_kv_heads=1, intermediate_size=64, corpus_episodes=8)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), cfg=SMALL)


def _context(policy, model_dir, loads):
    def load(spec):
        loads.append(spec)
        return HFPolicy.from_pretrained(spec, device="cpu")

    return SetupContext(policy=policy, model_path=str(model_dir), run_dir=model_dir, load_policy=load)


def test_under_lora_the_reference_is_the_base_with_adapters_off(model_dir):
    policy = HFPolicy.from_pretrained(model_dir, device="cpu", lora={"r": 2, "lora_alpha": 4, "init_lora_weights": False})
    loads = []
    feature = ReferenceModel.from_config(TrainConfig(kl_coef=0.1), None, _context(policy, model_dir, loads))
    assert loads == [] and feature.reference.model is policy.model  # no second model in memory
    base = HFPolicy.from_pretrained(model_dir, device="cpu")
    ids = base.encode_prompts([[{"role": "user", "content": "Now: ice"}]])
    sample = UpdateSample(ids[0], [5, 6, 7], [], advantage=0.0, traj_id=0)
    feature.prepare([sample])
    with torch.no_grad():
        expected, _, _ = base.score(ids, [[5, 6, 7]])
        adapted, _, _ = policy.score(ids, [[5, 6, 7]])
    assert sample.ref_logprobs == pytest.approx(expected[0].tolist(), abs=1e-5)
    assert not torch.allclose(adapted, expected, atol=1e-4)  # the adapters (random here) do change the policy


def test_a_full_model_reference_is_loaded_from_the_starting_weights(model_dir):
    policy = HFPolicy.from_pretrained(model_dir, device="cpu")
    loads = []
    feature = ReferenceModel.from_config(TrainConfig(kl_coef=0.1), None, _context(policy, model_dir, loads))
    assert loads == [str(model_dir)] and feature.reference.model is not policy.model
    assert ReferenceModel.from_config(TrainConfig(kl_coef=0.0), None, _context(policy, model_dir, [])) is None
