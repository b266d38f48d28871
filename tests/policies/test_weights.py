"""Weight snapshots: full and adapter-only, through bytes, into another copy of the model."""

import copy

import pytest
import torch

from agentgym.rollout.prompts import build_messages
from policies.hf import HFPolicy
from policies.tiny import TinyConfig, build_tiny_model
from policies.weights import from_bytes, load_snapshot, snapshot, to_bytes

SMALL = TinyConfig(hidden_size=64, num_layers=1, num_heads=1, num_kv_heads=1, intermediate_size=64, corpus_episodes=4)
PROMPT = [build_messages("Reach the goal.", "You are at row 1, column 1.")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), cfg=SMALL)


def _logprobs(policy):
    ids = policy.encode_prompts(PROMPT)
    with torch.no_grad():
        return policy.score(ids, [policy.encode_response("<action>north</action>")])[0]


def _perturb(model, only: str = ""):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if only in name:
                p.add_(torch.randn_like(p) * 0.2)


def test_full_snapshot_through_bytes_reproduces_the_trained_model(folder):
    trained, engine = HFPolicy.from_pretrained(folder, device="cpu"), HFPolicy.from_pretrained(folder, device="cpu")
    torch.manual_seed(0)
    _perturb(trained.model)
    assert not torch.equal(_logprobs(trained), _logprobs(engine))
    weights = from_bytes(to_bytes(snapshot(trained.model)))
    assert not weights.adapter_only
    assert set(weights.tensors) == set(trained.model.state_dict())
    load_snapshot(engine.model, weights)
    assert torch.equal(_logprobs(trained), _logprobs(engine))


def test_snapshot_is_a_copy_that_later_updates_do_not_change(folder):
    trained = HFPolicy.from_pretrained(folder, device="cpu")
    weights = snapshot(trained.model)
    before = {k: v.clone() for k, v in weights.tensors.items()}
    _perturb(trained.model)
    assert all(torch.equal(before[k], weights.tensors[k]) for k in before)


def test_lora_snapshot_holds_only_the_adapter_tensors(folder):
    trained = HFPolicy.from_pretrained(folder, device="cpu", lora={"r": 2, "lora_alpha": 4})
    engine = copy.deepcopy(trained)
    torch.manual_seed(1)
    _perturb(trained.model, only="lora_")
    weights = from_bytes(to_bytes(snapshot(trained.model)))
    assert weights.adapter_only and weights.tensors and all("lora_" in name for name in weights.tensors)
    full = sum(p.numel() for p in trained.model.parameters())
    assert sum(t.numel() for t in weights.tensors.values()) < full / 4
    assert not torch.equal(_logprobs(trained), _logprobs(engine))
    load_snapshot(engine.model, weights)
    assert torch.equal(_logprobs(trained), _logprobs(engine))


def test_mismatched_snapshots_are_errors_not_partial_loads(folder):
    full = HFPolicy.from_pretrained(folder, device="cpu")
    lora = HFPolicy.from_pretrained(folder, device="cpu", lora={"r": 2, "lora_alpha": 4})
    with pytest.raises(ValueError, match="adapter-only"):
        load_snapshot(full.model, snapshot(lora.model))
    with pytest.raises(ValueError, match="LoRA"):
        load_snapshot(lora.model, snapshot(full.model))
    partial = snapshot(full.model)
    partial.tensors.pop(next(iter(partial.tensors)))
    with pytest.raises(ValueError, match="missing"):
        load_snapshot(full.model, partial)
    with pytest.raises(ValueError, match="safetensors"):
        from_bytes(b"not weights")


def _state(model):
    return {n: t.detach().clone() for n, t in model.state_dict().items()}


def _unchanged(model, before) -> bool:
    return all(torch.equal(t, before[n]) for n, t in model.state_dict().items())


@pytest.mark.parametrize("defect", ["extra_name", "missing_tensor", "int64_tensor"])
def test_a_refused_full_snapshot_changes_no_weight(folder, defect):
    engine, trained = HFPolicy.from_pretrained(folder, device="cpu"), HFPolicy.from_pretrained(folder, device="cpu")
    _perturb(trained.model)
    weights = snapshot(trained.model)  # every tensor differs from the engine's...
    first = next(iter(weights.tensors))
    if defect == "extra_name":
        weights.tensors["not.a.parameter"] = torch.zeros(2)
    elif defect == "missing_tensor":
        weights.tensors.pop(first)
    else:
        weights.tensors[first] = weights.tensors[first].to(torch.int64)
    before = _state(engine.model)
    with pytest.raises(ValueError, match="unexpected|missing|dtype"):
        load_snapshot(engine.model, weights)
    assert _unchanged(engine.model, before)  # ...yet none was copied


def test_a_refused_adapter_snapshot_changes_no_weight(folder):
    lora = {"r": 2, "lora_alpha": 4}
    engine = HFPolicy.from_pretrained(folder, device="cpu", lora=lora)
    trained = HFPolicy.from_pretrained(folder, device="cpu", lora=lora)
    _perturb(trained.model, only="lora_")
    weights = snapshot(trained.model)
    weights.tensors["base_model.model.not_an_adapter.lora_A.weight"] = torch.zeros(2, 2)
    before = _state(engine.model)
    with pytest.raises(ValueError, match="unexpected"):
        load_snapshot(engine.model, weights)
    assert _unchanged(engine.model, before)
