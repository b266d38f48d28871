"""HFPolicy: sampling statistics agree with teacher forcing, batching, stops, seeds, LoRA, save/load."""

import pytest
import torch

from agentgym.core.policy import SamplingParams, TrainablePolicy
from agentgym.rollout.prompts import build_messages
from policies.chat_template import ChatTemplateError, check_prefix_stability
from policies.hf import HFPolicy
from policies.tiny import TinyConfig, build_tiny_model

SMALL = TinyConfig(hidden_size=64, num_layers=2, num_heads=1, num_kv_heads=1, intermediate_size=128,
                   corpus_episodes=16)
PROMPTS = [
    build_messages("Walk to the goal at row 4, column 4.", "You are at row 1, column 1. North: ice.", (),
                   ["north", "south", "east", "west"]),
    build_messages("Walk to the goal at row 2, column 5.", "You are at row 3, column 2.", (), ["east"]),
    build_messages(None, "The lake ends there.", ()),
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), cfg=SMALL)


@pytest.fixture(scope="module")
def policy(model_dir):
    torch.manual_seed(0)
    pol = HFPolicy.from_pretrained(model_dir, device="cpu")
    with torch.no_grad():  # random init is near-uniform; sharpen it so greedy choices are well separated
        for p in pol.model.parameters():
            p.mul_(3.0)
    return pol


def direct_stats(policy, prompt_ids, response_ids):
    """Log-probs and entropies from one unpadded forward pass, computed by hand."""
    ids = torch.tensor([prompt_ids + response_ids])
    with torch.no_grad():
        logits = policy.model(input_ids=ids).logits[0].float()
    logp = torch.log_softmax(logits[len(prompt_ids) - 1:-1], -1)  # rows predicting each response token
    probs = logp.exp()
    entropy = -(probs * logp).sum(-1)
    return logp.gather(-1, torch.tensor(response_ids)[:, None]).squeeze(-1), entropy


def test_is_trainable_policy(policy):
    assert isinstance(policy, TrainablePolicy)
    assert policy.device == torch.device("cpu")


def test_generation_logprobs_equal_teacher_forced_scores(policy):
    sampling = SamplingParams(temperature=0.7, top_p=0.9, max_new_tokens=12, seed=3)
    gens = policy.generate(PROMPTS, sampling)
    logp, ent, mask = policy.score([g.prompt_ids for g in gens], [g.token_ids for g in gens], with_entropy=True)
    assert logp.shape == ent.shape == mask.shape == (3, max(len(g.token_ids) for g in gens))
    assert logp.dtype == torch.float32
    for row, gen in enumerate(gens):
        n = len(gen.token_ids)
        assert n == len(gen.logprobs) == len(gen.entropies) > 0
        assert mask[row, :n].eq(1).all() and mask[row, n:].eq(0).all()
        torch.testing.assert_close(logp[row, :n], torch.tensor(gen.logprobs), atol=1e-4, rtol=0)
        torch.testing.assert_close(ent[row, :n], torch.tensor(gen.entropies), atol=1e-4, rtol=0)
        direct_logp, direct_ent = direct_stats(policy, gen.prompt_ids, gen.token_ids)
        torch.testing.assert_close(torch.tensor(gen.logprobs), direct_logp, atol=1e-4, rtol=0)
        torch.testing.assert_close(torch.tensor(gen.entropies), direct_ent, atol=1e-4, rtol=0)


def test_prompt_ids_are_the_chat_template_with_generation_prompt(policy):
    gen = policy.generate(PROMPTS[:1], SamplingParams(max_new_tokens=4, seed=0))[0]
    text = policy.tokenizer.apply_chat_template(PROMPTS[0], tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n")
    assert gen.prompt_ids == policy.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert policy.tokenizer.pad_token_id not in gen.token_ids


def test_greedy_batched_equals_unbatched(policy):
    greedy = SamplingParams(greedy=True, max_new_tokens=10)
    batched = policy.generate(PROMPTS, greedy)
    single = [policy.generate([p], greedy)[0] for p in PROMPTS]
    assert [g.token_ids for g in batched] == [g.token_ids for g in single]
    assert [g.text for g in batched] == [g.text for g in single]
    for b, s in zip(batched, single):
        torch.testing.assert_close(torch.tensor(b.logprobs), torch.tensor(s.logprobs), atol=1e-4, rtol=0)


def test_greedy_picks_the_argmax(policy):
    gen = policy.generate(PROMPTS[:1], SamplingParams(greedy=True, max_new_tokens=1))[0]
    ids = torch.tensor([gen.prompt_ids])
    with torch.no_grad():
        assert gen.token_ids == [int(policy.model(input_ids=ids).logits[0, -1].argmax())]


def test_eos_ends_a_response_and_is_kept(policy):
    eos = policy.eos_ids[0]
    bias = torch.zeros(policy.model.config.vocab_size)
    bias[eos] = 100.0  # make EOS overwhelmingly likely at every position
    handle = policy.model.lm_head.register_forward_hook(lambda mod, inp, out: out + bias)
    try:
        gen = policy.generate(PROMPTS[:1], SamplingParams(max_new_tokens=8, seed=0))[0]
    finally:
        handle.remove()
    assert gen.token_ids == [eos] and gen.finish_reason == "stop" and gen.text == ""


def test_stop_string_ends_generation_and_stays_in_text(policy):
    free = policy.generate(PROMPTS[:1], SamplingParams(greedy=True, max_new_tokens=8))[0]
    stop = policy.tokenizer.decode(free.token_ids[:2], skip_special_tokens=True)
    assert stop
    stopped = policy.generate(PROMPTS[:1], SamplingParams(greedy=True, max_new_tokens=8, stop=(stop,)))[0]
    assert stopped.finish_reason == "stop"
    assert stopped.text.endswith(stop) and stop not in stopped.text[:-len(stop)]
    assert stopped.token_ids == free.token_ids[:len(stopped.token_ids)] and len(stopped.token_ids) <= 2


def test_a_finished_row_leaves_the_batch_and_the_others_decode_as_before(policy):
    free = policy.generate(PROMPTS, SamplingParams(greedy=True, max_new_tokens=8))
    stop = policy.tokenizer.decode(free[0].token_ids[:2], skip_special_tokens=True)
    assert stop and all(stop not in g.text for g in free[1:])  # only the first row meets the stop string
    rows_per_forward: list[int] = []
    handle = policy.model.register_forward_pre_hook(
        lambda module, args, kwargs: rows_per_forward.append(kwargs["input_ids"].shape[0]), with_kwargs=True)
    try:
        stopped = policy.generate(PROMPTS, SamplingParams(greedy=True, max_new_tokens=8, stop=(stop,)))
    finally:
        handle.remove()
    n = len(stopped[0].token_ids)
    assert stopped[0].finish_reason == "stop" and stopped[0].token_ids == free[0].token_ids[:n]
    assert [g.token_ids for g in stopped[1:]] == [g.token_ids for g in free[1:]]
    # the prefill and the steps before the first row stopped carry 3 rows; every forward after it 2
    longest = max(len(g.token_ids) for g in free[1:])
    assert rows_per_forward == [3] * n + [2] * (longest - n)


def test_length_limit_and_seeds(policy):
    sampling = SamplingParams(temperature=1.5, max_new_tokens=6, seed=11)
    first, again = policy.generate(PROMPTS, sampling), policy.generate(PROMPTS, sampling)
    assert [g.token_ids for g in first] == [g.token_ids for g in again]
    other = policy.generate(PROMPTS, SamplingParams(temperature=1.5, max_new_tokens=6, seed=12))
    assert [g.token_ids for g in first] != [g.token_ids for g in other]
    assert all(len(g.token_ids) <= 6 for g in first)
    assert all(g.finish_reason == "length" for g in first if len(g.token_ids) == 6 and policy.eos_ids[0]
               not in g.token_ids)


def test_score_has_gradients(policy):
    prompt_ids = policy.encode_prompts(PROMPTS[:2])
    response_ids = [policy.encode_response("<action>north</action>"), policy.encode_response("<action>east")]
    logp, ent, mask = policy.score(prompt_ids, response_ids, with_entropy=True)
    assert mask.sum(1).tolist() == [len(r) for r in response_ids]
    (-(logp * mask).sum() - ent.sum()).backward()
    grads = [p.grad for p in policy.model.parameters()]
    assert all(g is not None for g in grads) and any(float(g.abs().sum()) > 0 for g in grads)
    policy.model.zero_grad(set_to_none=True)
    texts = policy.logprobs(PROMPTS[:1], ["<action>north</action>"])
    torch.testing.assert_close(torch.tensor(texts[0]), logp[0, :len(response_ids[0])].detach(), atol=1e-5, rtol=0)


def test_frozen_copy_is_independent_and_frozen(model_dir):
    pol = HFPolicy.from_pretrained(model_dir, device="cpu")
    ref = pol.frozen_copy()
    ids, resp = pol.encode_prompts(PROMPTS[:1]), [pol.encode_response("<action>west</action>")]
    before = ref.score(ids, resp)[0].detach()
    with torch.no_grad():
        for p in pol.model.parameters():
            p.add_(0.05)
    assert not any(p.requires_grad for p in ref.model.parameters())
    torch.testing.assert_close(ref.score(ids, resp)[0].detach(), before)
    assert not torch.allclose(pol.score(ids, resp)[0].detach(), before)


def test_save_and_reload_full_model(policy, tmp_path):
    from policies import from_spec

    policy.save(tmp_path / "ckpt" / "policy")
    greedy = SamplingParams(greedy=True, max_new_tokens=8)
    reloaded = from_spec(str(tmp_path / "ckpt"), device="cpu")  # a checkpoint folder holding policy/
    assert [g.token_ids for g in reloaded.generate(PROMPTS, greedy)] == [g.token_ids for g in policy.generate(PROMPTS, greedy)]


def test_lora_saves_reloads_and_gives_same_outputs(model_dir, tmp_path):
    torch.manual_seed(0)
    pol = HFPolicy.from_pretrained(model_dir, device="cpu", lora={"r": 4, "lora_alpha": 8})
    assert pol.is_lora
    trainable = [n for n, p in pol.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    with torch.no_grad():  # fresh adapters are a no-op (B = 0); make them matter
        for name, p in pol.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    ids, resp = pol.encode_prompts(PROMPTS), [pol.encode_response("<action>south</action>")] * 3
    pol.save(tmp_path / "lora")
    again = HFPolicy.from_pretrained(tmp_path / "lora", device="cpu")
    assert again.is_lora
    with torch.no_grad():
        torch.testing.assert_close(again.score(ids, resp)[0], pol.score(ids, resp)[0])
    greedy = SamplingParams(greedy=True, max_new_tokens=8)
    assert [g.token_ids for g in again.generate(PROMPTS, greedy)] == [g.token_ids for g in pol.generate(PROMPTS, greedy)]
    base = HFPolicy.from_pretrained(model_dir, device="cpu")
    with torch.no_grad():  # the LoRA reference is the base model with adapters off
        torch.testing.assert_close(pol.frozen_copy().score(ids, resp)[0], base.score(ids, resp)[0])
        assert not torch.allclose(pol.score(ids, resp)[0], base.score(ids, resp)[0])


def test_bfloat16_policy_generates(model_dir):
    pol = HFPolicy.from_pretrained(model_dir, device="cpu", dtype="bf16")
    gen = pol.generate(PROMPTS[:1], SamplingParams(max_new_tokens=4, seed=0))[0]
    assert next(pol.model.parameters()).dtype == torch.bfloat16
    assert len(gen.logprobs) == len(gen.token_ids) > 0 and all(lp <= 0 for lp in gen.logprobs)


def test_template_that_rewrites_history_is_refused(policy):
    tokenizer = policy.tokenizer
    original = tokenizer.chat_template
    try:  # like templates that drop earlier reasoning: past assistant turns are shortened
        tokenizer.chat_template = (
            "{% for m in messages %}{% if m['role'] == 'assistant' and not loop.last %}"
            "{{ '<|im_start|>assistant\\n' + m['content'][-5:] + '<|im_end|>\\n' }}"
            "{% else %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endif %}"
            "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
        with pytest.raises(ChatTemplateError, match="prefix-stable"):
            check_prefix_stability(tokenizer)
        tokenizer.chat_template = None
        with pytest.raises(ChatTemplateError, match="no chat_template"):
            check_prefix_stability(tokenizer)
    finally:
        tokenizer.chat_template = original
    check_prefix_stability(tokenizer)


def test_lora_on_a_bfloat16_base_trains_float32_adapters_and_merges(model_dir, tmp_path):
    """The CPU recipe: a frozen bf16 base, adapters in float32 (an AdamW step of 1e-5 is not lost to bf16 rounding)."""
    pol = HFPolicy.from_pretrained(model_dir, device="cpu", dtype="bf16", lora={"r": 4, "lora_alpha": 8})
    dtypes = {(p.requires_grad, p.dtype) for p in pol.model.parameters()}
    assert dtypes == {(True, torch.float32), (False, torch.bfloat16)}
    with torch.no_grad():
        for name, p in pol.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    ids, resp = pol.encode_prompts(PROMPTS), [pol.encode_response("<action>south</action>")] * 3
    with torch.no_grad():
        adapted = pol.score(ids, resp)[0]
    pol.save_merged(tmp_path / "merged")
    assert not pol.is_lora and not (tmp_path / "merged" / "adapter_config.json").exists()
    merged = HFPolicy.from_pretrained(tmp_path / "merged", device="cpu", dtype="auto")
    assert next(merged.model.parameters()).dtype == torch.bfloat16  # auto: as saved
    with torch.no_grad():  # the same policy, up to the bf16 rounding of the merged weights
        torch.testing.assert_close(merged.score(ids, resp)[0], adapted, atol=0.1, rtol=0.05)
