"""vLLM backend: pure helpers run everywhere; engine tests only where vllm imports (CUDA)."""

import math

import pytest
import torch

from agentgym.core.policy import SamplingParams
from agentgym.rollout.prompts import build_messages
from policies import vllm as vllm_backend
from policies.vllm import merged_state, topk_entropy


def test_topk_entropy_is_the_entropy_of_the_reported_candidates():
    assert topk_entropy([math.log(0.5), math.log(0.5)]) == pytest.approx(math.log(2))
    assert topk_entropy([0.0]) == 0.0
    assert topk_entropy([math.log(0.9)]) < -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))  # a lower bound


def test_merged_state_folds_lora_into_plain_weights(tmp_path):
    from policies.hf import HFPolicy
    from policies.tiny import TinyConfig, build_tiny_model

    small = TinyConfig(hidden_size=64, num_layers=1, num_heads=1, num_kv_heads=1, intermediate_size=64,
                       corpus_episodes=4)
    folder = build_tiny_model(tmp_path / "m", cfg=small)
    pol = HFPolicy.from_pretrained(folder, device="cpu", lora={"r": 2, "lora_alpha": 4})
    with torch.no_grad():
        for name, p in pol.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.3)
    merged = dict(merged_state(pol.model))
    plain = HFPolicy.from_pretrained(folder, device="cpu").model
    assert set(merged) == set(plain.state_dict())
    plain.load_state_dict(merged)
    ids = pol.encode_prompts([build_messages("t", "o")])
    resp = [pol.encode_response("<action>north</action>")]
    with torch.no_grad():
        lora_logp = pol.score(ids, resp)[0]
        pol.model = plain
        torch.testing.assert_close(pol.score(ids, resp)[0], lora_logp, atol=1e-5, rtol=0)


def test_missing_vllm_is_reported_clearly():
    if vllm_backend.available():
        pytest.skip("vllm is installed here")
    with pytest.raises(ImportError, match="needs vllm"):
        vllm_backend.VLLMPolicy("any")


@pytest.mark.gpu
@pytest.mark.skipif(not vllm_backend.available(), reason="vllm is not installed (CUDA-only extra 'vllm')")
def test_vllm_logprobs_match_hf_scores(tmp_path):
    from policies.hf import HFPolicy
    from policies.tiny import build_tiny_model

    folder = build_tiny_model(tmp_path / "m")
    engine = vllm_backend.VLLMPolicy(str(folder), dtype="float32", gpu_memory_utilization=0.2)
    hf = HFPolicy.from_pretrained(folder, device="cuda")
    prompts = [build_messages("Walk to the goal.", f"You are at row {r}, column 1.") for r in range(1, 5)]
    gens = engine.generate(prompts, SamplingParams(temperature=0.8, max_new_tokens=8, seed=0))
    assert [g.prompt_ids for g in gens] == hf.encode_prompts(prompts)
    with torch.no_grad():
        logp, _, _ = hf.score([g.prompt_ids for g in gens], [g.token_ids for g in gens])
    for row, gen in enumerate(gens):
        torch.testing.assert_close(logp[row, :len(gen.token_ids)].cpu(), torch.tensor(gen.logprobs),
                                   atol=2e-3, rtol=0)
    engine.load_weights(hf.model)
