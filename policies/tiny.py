"""The offline tiny model: a tokenizer and a small Llama/Qwen2-style LM built from environment text.

No pretrained weights can be downloaded on the build machines, so the default policy is built
here: a byte-level BPE tokenizer trained (with the ``tokenizers`` library) on the exact prompts the
rollout shows (``agentgym.rollout.prompts.build_messages`` over expert and random episodes), a ChatML chat
template, and a randomly initialised Llama-style config with head size 64 (small by default so the
SFT warm start fits in about a minute of CPU; see ``TinyConfig``).
Everything is saved as a normal Hugging Face folder, so every other code path loads it with
``from_pretrained``. ``default_model`` adds an SFT warm start on expert episodes and caches the
result under ``agentgym.util.paths.cache_dir("models", ...)``, safe against concurrent builders.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from agentgym.rollout.episode import EpisodeSettings
from agentgym.sft.data import collect_examples
from agentgym.sft.trainer import SFTConfig, run_sft
from agentgym.util.paths import cache_dir, replace_dir

DEFAULT_ENV = "agentgym/FrozenLake-v1"  # the main job's
# The warm start of an environment's default model, where SFTConfig's defaults are not enough: on FrozenLake,
# 600 steps over 600 expert episodes (20-40 s on 2 cores) reach 0.85 (v1) and 0.73 (v0) valid_seen success
# (docs/benchmarks.md, "The main job against hand-written baselines"); longer-prompt environments keep the
# shorter default.
WARM_STARTS: dict[str, SFTConfig] = {f"agentgym/FrozenLake-{v}": SFTConfig(teacher_episodes=600, steps=600)
                                       for v in ("v0", "v1")}
PAD, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
ACTION_TOKENS = ("<action>", "</action>")  # whole tokens, so an action costs three response tokens
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# Digits and newlines are pieces of their own, and so is each sentence (text up to ". ! ?") between them:
# BPE may merge a frequent sentence into one token (" South: a hole.", " rows south."), so the model reads a
# neighbour's direction and tile from one embedding instead of binding them across positions. Against
# punctuation-split pieces this lifted FrozenLake-v0 SFT (600 expert steps) from 0.15 to 0.73 held-out success.
PIECE_PATTERN = r"\d|\n|[^\d\n.!?]*[.!?]"


@dataclass(frozen=True)
class TinyConfig:
    """Size of the tiny model; head size stays 64 (supported by every attention kernel).

    The default (about 0.46M parameters: hidden 128, 2 layers, 2 heads) reaches greedy held-out success 0.85 /
    0.70 (valid_seen / valid_unseen) on FrozenLake-v1 after its 600-step warm start, and is small enough for
    120 RL iterations in about 3.5 minutes on a 2-core CPU. Four layers did worse at 600 steps (0.63 / 0.30 on
    v0); the tokenizer's sentence pieces mattered far more than depth (docs/benchmarks.md).
    """

    vocab_size: int = 1024
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 2
    num_kv_heads: int = 1
    intermediate_size: int = 384
    max_positions: int = 2048
    corpus_episodes: int = 150
    seed: int = 0


def corpus_texts(env_id: str, episodes: int, seed: int = 0,
                 env_kwargs: dict[str, Any] | None = None) -> Iterator[str]:
    """Rendered chats (prompt + expert response) of expert and random-behaviour train episodes."""
    half = max(1, episodes // 2)
    for explore in (0.0, 1.0):
        episode = EpisodeSettings(env=env_id, env_kwargs=dict(env_kwargs or {}))
        for example in collect_examples(episode, half, seed=seed, explore=explore):
            turns = [*example.messages, {"role": "assistant", "content": example.response}]
            yield "\n".join(f"{m['role']}\n{m['content']}" for m in turns)


def train_tokenizer(texts: Iterable[str], vocab_size: int):
    """A byte-level BPE tokenizer (``PreTrainedTokenizerFast``) with ChatML special tokens."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PIECE_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  special_tokens=[PAD, IM_START, IM_END],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    tok.add_tokens([AddedToken(t, normalized=False) for t in ACTION_TOKENS])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=IM_END, pad_token=PAD,
                                   additional_special_tokens=[IM_START, IM_END])
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "left"
    return fast


def tiny_llama_config(tokenizer, cfg: TinyConfig):
    """A Llama-style config (Qwen2 minus the qkv bias).

    Not ``Qwen2Config``: transformers 5 maps model_type "qwen2" to ``Qwen2Tokenizer``, which
    replaces the trained pre-tokenizer with Qwen's regex, so ``AutoTokenizer`` would tokenize
    differently from the tokenizer we trained. "llama" keeps ``tokenizer.json`` as saved.
    """
    from transformers import LlamaConfig

    if cfg.hidden_size // cfg.num_heads != 64:
        raise ValueError(f"head size must be 64, got {cfg.hidden_size} / {cfg.num_heads}")
    eos = tokenizer.convert_tokens_to_ids(IM_END)
    return LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_kv_heads, max_position_embeddings=cfg.max_positions,
        tie_word_embeddings=True, rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        pad_token_id=tokenizer.pad_token_id, bos_token_id=None, eos_token_id=eos, head_dim=64,
        attention_bias=False, mlp_bias=False,
    )


def build_tiny_model(out_dir: str | os.PathLike, env_id: str = DEFAULT_ENV, cfg: TinyConfig | None = None,
                     env_kwargs: dict[str, Any] | None = None) -> Path:
    """Train the tokenizer on ``env_id`` text (made with ``env_kwargs``), initialise the model, save both
    as an HF folder."""
    import torch
    from transformers import GenerationConfig, LlamaForCausalLM

    cfg = cfg or TinyConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(corpus_texts(env_id, cfg.corpus_episodes, cfg.seed, env_kwargs), cfg.vocab_size)
    torch.manual_seed(cfg.seed)
    model = LlamaForCausalLM(tiny_llama_config(tokenizer, cfg))
    model.generation_config = GenerationConfig(eos_token_id=model.config.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    meta = {"env_id": env_id, **({"env_kwargs": env_kwargs} if env_kwargs else {}), **asdict(cfg)}
    (out / "agentgym_tiny.json").write_text(json.dumps(meta, indent=2))
    return out


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


# ---- the cached default model ---------------------------------------------------------------------
def default_model(env_id: str = DEFAULT_ENV, cfg: TinyConfig | None = None, warm: SFTConfig | None = None,
                  verbose: bool = False, env_kwargs: dict[str, Any] | None = None) -> Path:
    """Path of the SFT-warm-started tiny model for ``env_id``; built once, then read from the cache.

    ``env_kwargs`` reach every environment the build makes (e.g. ``{"num_tasks": 200}`` bounds how
    many TextWorld games the corpus and the SFT episodes generate)."""
    cfg, warm = cfg or TinyConfig(), warm or WARM_STARTS.get(env_id, SFTConfig())
    # the last item versions how models are built (6: prompts use the environment's prompt_history_len;
    # 7: the latest history line no longer repeats the current observation; 8: the warm start is an
    # SFT recipe, whose warmup/epochs/weight_decay/max_grad_norm join the key (SFTConfig.recipe, under its 0.1
    # names); 9: sentence pieces);
    # env_kwargs join the key only when given, so models built without them keep their folders
    parts = [env_id, asdict(cfg), warm.recipe(), 9, *([env_kwargs] if env_kwargs else [])]
    key = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    slug = env_id.replace("/", "--").replace(":", "--")
    final = cache_dir("models") / f"{slug}-{key[:12]}"
    if _complete(final):
        return final
    with _file_lock(final.with_suffix(".lock")):
        if _complete(final):  # another process built it while we waited
            return final
        tmp = Path(tempfile.mkdtemp(prefix=final.name + ".tmp-", dir=final.parent))
        try:
            _build_warm(tmp, env_id, cfg, warm, verbose, env_kwargs or {})
            (tmp / "COMPLETE").write_text("ok\n")
            replace_dir(tmp, final)  # readers see the old folder or the complete new one
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _build_warm(out: Path, env_id: str, cfg: TinyConfig, warm: SFTConfig, verbose: bool,
                env_kwargs: dict[str, Any]) -> None:
    build_tiny_model(out, env_id, cfg, env_kwargs)
    if verbose:
        from agentgym.util import console

        console.phase("build", f"tokenizer (at most {cfg.vocab_size} pieces) trained on {cfg.corpus_episodes} episodes of "
                               f"{env_id}; a {cfg.num_layers}-layer, hidden-{cfg.hidden_size} model initialised")
    run_sft(replace(warm, env=env_id, model=str(out), out=str(out), verbose=verbose, env_kwargs=dict(env_kwargs)))


def _complete(path: Path) -> bool:
    return (path / "COMPLETE").exists() and (path / "config.json").exists()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
