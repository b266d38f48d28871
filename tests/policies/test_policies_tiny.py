"""The tiny model is a normal HF folder whose tokenizer was trained on the environment's prompts."""

import threading

import pytest

from agentgym.rollout.episode import EpisodeSettings
from agentgym.sft.data import collect_examples
from agentgym.sft.trainer import SFTConfig
from policies import tiny
from policies.tiny import TinyConfig, build_tiny_model, count_parameters

SMALL = TinyConfig(hidden_size=64, num_layers=2, num_heads=1, num_kv_heads=1, intermediate_size=128,
                   corpus_episodes=16)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), cfg=SMALL)


def test_folder_loads_with_auto_classes(folder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert model.config.head_dim == model.config.hidden_size // model.config.num_attention_heads == 64
    assert model.config.vocab_size == len(tokenizer)
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"
    assert model.config.eos_token_id == tokenizer.eos_token_id


def test_default_config_sizes():
    from transformers import LlamaForCausalLM

    class FakeTokenizer:
        pad_token_id = 0

        def __len__(self):
            return 500

        def convert_tokens_to_ids(self, token):
            return 2

    n = count_parameters(LlamaForCausalLM(tiny.tiny_llama_config(FakeTokenizer(), TinyConfig())))
    assert 400_000 <= n <= 500_000  # 2 layers x 128 wide (0.46M): sized for a two-minute CPU warm start
    wide = TinyConfig(hidden_size=256, num_layers=4, num_heads=4, num_kv_heads=2, intermediate_size=768)
    assert 3_000_000 <= count_parameters(LlamaForCausalLM(tiny.tiny_llama_config(FakeTokenizer(), wide))) <= 4_000_000
    with pytest.raises(ValueError, match="head size must be 64"):
        tiny.tiny_llama_config(FakeTokenizer(), TinyConfig(hidden_size=96, num_heads=1))


def test_tokenizer_covers_the_prompts_and_round_trips(folder):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    example = collect_examples(EpisodeSettings(env="agentgym/FrozenLake-v0"), 1, seed=123, split="valid_seen")[0]
    text = tokenizer.apply_chat_template(example.messages, tokenize=False, add_generation_prompt=True)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text
    assert len(ids) < len(text) / 3  # phrase-level merges: far fewer tokens than bytes
    assert tokenizer.tokenize("<action>north</action>") == ["<action>", "north", "</action>"]
    assert tokenizer.tokenize("row 12")[-2:] == ["1", "2"]  # digits are always single tokens


def test_pieces_are_sentences_so_a_neighbour_reads_as_one_token(folder):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    first, second = " South: a hole.", " East: ice."
    # no token crosses a sentence end, and a frequent sentence of the prompts is a single token
    assert tokenizer.tokenize(first + second) == tokenizer.tokenize(first) + tokenizer.tokenize(second)
    assert [tokenizer.decode(tokenizer.convert_tokens_to_ids(t)) for t in tokenizer.tokenize(first)] == [first]


def test_chat_template_is_chatml(folder):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == \
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"


def test_default_model_builds_once_under_concurrency(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTGYM_CACHE", str(tmp_path))
    builds = []
    real = tiny._build_warm

    def counting_build(*args, **kwargs):
        builds.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(tiny, "_build_warm", counting_build)
    warm = SFTConfig(teacher_episodes=3, steps=2, examples_per_step=4)
    paths = []
    threads = [threading.Thread(target=lambda: paths.append(tiny.default_model(cfg=SMALL, warm=warm)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and len(set(paths)) == 1 and len(paths) == 2
    final = paths[0]
    assert (final / "COMPLETE").exists() and (final / "model.safetensors").exists()
    assert final.parent == tmp_path / "models"
    assert [p.name for p in final.parent.iterdir() if ".tmp-" in p.name] == []
    assert tiny.default_model(cfg=SMALL, warm=warm) == final and len(builds) == 1


def test_env_kwargs_reach_the_build_and_key_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTGYM_CACHE", str(tmp_path))
    seen = []

    def fake_build(out, env_id, cfg, warm, verbose, env_kwargs):
        seen.append(env_kwargs)
        (out / "config.json").write_text("{}")

    monkeypatch.setattr(tiny, "_build_warm", fake_build)
    plain = tiny.default_model(cfg=SMALL)
    assert tiny.default_model(cfg=SMALL, env_kwargs={}) == plain  # no kwargs = the same model as before
    bounded = tiny.default_model(cfg=SMALL, env_kwargs={"num_tasks": 20})
    other = tiny.default_model(cfg=SMALL, env_kwargs={"num_tasks": 30})
    assert len({plain, bounded, other}) == 3
    assert seen == [{}, {"num_tasks": 20}, {"num_tasks": 30}]


def test_corpus_uses_the_env_kwargs(monkeypatch):
    calls = []

    def fake_collect(episode, episodes, seed=0, explore=0.0):
        calls.append((episode.env, episodes, explore, episode.env_kwargs))
        return []

    monkeypatch.setattr(tiny, "collect_examples", fake_collect)
    assert list(tiny.corpus_texts("agentgym/FrozenLake-v0", 4, env_kwargs={"num_tasks": 1})) == []
    lake = "agentgym/FrozenLake-v0"
    assert calls == [(lake, 2, 0.0, {"num_tasks": 1}), (lake, 2, 1.0, {"num_tasks": 1})]  # expert half, random half
