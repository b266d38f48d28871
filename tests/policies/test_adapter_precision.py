"""float32 LoRA adapters on a bfloat16 base compute in bfloat16, keep float32 master weights, and sample
with the log-probs the update recomputes."""

import pytest
import torch

from agentgym.core.policy import SamplingParams
from policies.adapter_precision import adapter_autocast, adapter_compute_dtype
from policies.hf import HFPolicy
from policies.tiny import TinyConfig, build_tiny_model
from tests.policies.test_policies_hf import PROMPTS

SMALL = TinyConfig(hidden_size=64, num_layers=2, num_heads=1, num_kv_heads=1, intermediate_size=128,
                   corpus_episodes=16)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), cfg=SMALL)


def lora_policy(model_dir, dtype):
    torch.manual_seed(0)
    pol = HFPolicy.from_pretrained(model_dir, device="cpu", dtype=dtype, lora={"r": 4, "lora_alpha": 8})
    with torch.no_grad():
        for name, p in pol.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)  # fresh adapters are 0 and would hide which dtype they compute in
    return pol


def adapter_output_dtypes(pol, fn):
    seen = set()
    hooks = [module.register_forward_hook(lambda mod, inputs, out: seen.add((inputs[0].dtype, out.dtype)))
             for name, module in pol.model.named_modules() if name.endswith("lora_A.default")]
    try:
        fn()
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def test_only_float32_adapters_on_a_low_precision_base_are_autocast(model_dir):
    assert adapter_compute_dtype(lora_policy(model_dir, "bf16").model) == torch.bfloat16
    assert adapter_compute_dtype(lora_policy(model_dir, "float32").model) is None  # all float32: nothing to do
    plain = HFPolicy.from_pretrained(model_dir, device="cpu", dtype="bf16")
    assert adapter_compute_dtype(plain.model) is None
    with adapter_autocast(plain.model):
        assert not torch.is_autocast_enabled("cpu")


def test_scoring_runs_adapters_in_bfloat16_and_trains_float32_masters(model_dir):
    pol = lora_policy(model_dir, "bf16")
    ids, resp = pol.encode_prompts(PROMPTS), [pol.encode_response("<action>south</action>")] * 3
    box = {}
    # peft alone would cast each bf16 activation to float32 for the float32 adapter: (fp32 in, fp32 out)
    assert adapter_output_dtypes(pol, lambda: box.setdefault("s", pol.score(ids, resp))) == \
        {(torch.bfloat16, torch.bfloat16)}
    logp, _, mask = box["s"]
    (-(logp * mask).sum()).backward()
    grads = {name: p.grad for name, p in pol.model.named_parameters() if p.requires_grad}
    assert grads and all(g is not None and g.dtype == torch.float32 and g.abs().sum() > 0 for g in grads.values())
    assert all(m.cast_input_dtype_enabled for n, m in pol.model.named_modules() if hasattr(m, "cast_input_dtype_enabled"))
    assert not torch.is_autocast_enabled("cpu")  # the context ended with the call


def test_sampled_logprobs_are_the_ones_scoring_recomputes(model_dir):
    pol = lora_policy(model_dir, "bf16")
    gens = pol.generate(PROMPTS, SamplingParams(temperature=1.0, max_new_tokens=10, seed=1))
    assert adapter_output_dtypes(pol, lambda: pol.generate(PROMPTS[:1], SamplingParams(max_new_tokens=2))) == \
        {(torch.bfloat16, torch.bfloat16)}
    with torch.no_grad():
        logp, _, _ = pol.score([g.prompt_ids for g in gens], [g.token_ids for g in gens])
    for row, gen in enumerate(gens):
        # one bf16 model both ways; the cached decode and the full forward differ only in summation order
        torch.testing.assert_close(logp[row, :len(gen.token_ids)], torch.tensor(gen.logprobs), atol=0.05, rtol=0)
