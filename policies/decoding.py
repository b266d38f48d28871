"""Batched sampling with a KV cache that records log-probs and entropies as it goes.

One left-padded prefill, then one token per step for the whole batch. Each step's logits give
three things at once: the token to emit (temperature / top-p / greedy), the temperature-1
log-prob of that token, and the entropy of the full temperature-1 distribution. Recording them
here avoids keeping (steps x batch x vocab) logits around as ``model.generate(output_logits=True)``
would.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from agentgym.core.policy import SamplingParams
from agentgym.util.padding import left_pad, positions


@dataclass
class Decoded:
    """Per row: response token ids (EOS kept, padding dropped), their stats and why it stopped."""

    token_ids: list[list[int]]
    logprobs: list[list[float]]
    entropies: list[list[float]]
    finish_reasons: list[str]


def token_entropy(logp: torch.Tensor) -> torch.Tensor:
    """Entropy of each distribution given log-probs (..., V); exact zeros where p = 0."""
    return -(logp.exp() * logp.clamp(min=torch.finfo(logp.dtype).min)).sum(-1)


def choose_tokens(logits: torch.Tensor, sampling: SamplingParams, generator: torch.Generator | None) -> torch.Tensor:
    """Next token per row (B,) from float32 logits (B, V)."""
    if sampling.greedy or sampling.temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits / sampling.temperature, dim=-1)
    if sampling.top_p < 1.0:
        sorted_probs, order = probs.sort(-1, descending=True)
        before = sorted_probs.cumsum(-1) - sorted_probs  # mass of strictly more likely tokens
        sorted_probs = sorted_probs.masked_fill(before >= sampling.top_p, 0.0)
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


class StopStrings:
    """Tracks which rows have produced one of the stop strings (checks only each row's tail)."""

    def __init__(self, tokenizer, stop: Sequence[str]):
        self.tokenizer = tokenizer
        self.stop = tuple(s for s in stop if s)
        self.tail = max((len(s) for s in self.stop), default=0) + 2  # tokens are at least one char

    def hits(self, rows: list[list[int]], active: list[int]) -> list[int]:
        if not self.stop:
            return []
        found = []
        for i in active:
            text = self.tokenizer.decode(rows[i][-self.tail:], skip_special_tokens=True)
            if any(s in text for s in self.stop):
                found.append(i)
        return found

    def cut(self, text: str) -> str:
        """``text`` up to and including the first stop string (kept so actions stay parseable)."""
        ends = [text.find(s) + len(s) for s in self.stop if s in text]
        return text[:min(ends)] if ends else text


@torch.inference_mode()
def decode(model, prompt_ids: Sequence[Sequence[int]], sampling: SamplingParams, eos_ids: Sequence[int],
           pad_id: int, stops: StopStrings) -> Decoded:
    """Sample up to ``sampling.max_new_tokens`` tokens for every prompt in one batched loop."""
    from transformers import DynamicCache

    device = next(model.parameters()).device
    ids, mask = left_pad(prompt_ids, pad_id, device)  # (B, P)
    batch = ids.shape[0]
    generator = None
    if sampling.seed is not None:
        generator = torch.Generator(device=device).manual_seed(int(sampling.seed))
    eos = torch.as_tensor(list(eos_ids), dtype=torch.long, device=device)
    cache = DynamicCache(config=model.config)
    pos = positions(mask)
    cache_kw = {_cache_keyword(model): cache}
    out = model(input_ids=ids, attention_mask=mask, position_ids=pos, **cache_kw, use_cache=True, logits_to_keep=1)
    b_tok: list[torch.Tensor] = []  # each (B,)
    b_logp: list[torch.Tensor] = []
    b_ent: list[torch.Tensor] = []
    finished = torch.zeros(batch, dtype=torch.bool, device=device)
    length = torch.full((batch,), sampling.max_new_tokens, dtype=torch.long, device=device)
    for step in range(sampling.max_new_tokens):
        logits = out.logits[:, -1].float()  # (B, V)
        logp = torch.log_softmax(logits, dim=-1)
        token = choose_tokens(logits, sampling, generator)
        token = torch.where(finished, torch.full_like(token, pad_id), token)
        b_tok.append(token)
        b_logp.append(logp.gather(-1, token[:, None]).squeeze(-1))
        b_ent.append(token_entropy(logp))
        done_now = torch.isin(token, eos) & ~finished
        if stops.stop:
            active = (~finished).nonzero().flatten().tolist()
            tails = torch.stack(b_tok[-stops.tail:], 1).tolist()  # (B, <= tail)
            for i in stops.hits(tails, active):
                done_now[i] = True
        length = torch.where(done_now, torch.full_like(length, step + 1), length)
        finished |= done_now
        if bool(finished.all()):
            break
        mask = torch.cat([mask, torch.ones((batch, 1), dtype=mask.dtype, device=device)], dim=1)
        pos = pos[:, -1:] + 1
        out = model(input_ids=token[:, None], attention_mask=mask, position_ids=pos, **cache_kw, use_cache=True)
    if not b_tok:
        return Decoded([[] for _ in range(batch)], [[] for _ in range(batch)], [[] for _ in range(batch)],
                       ["length"] * batch)
    lengths = length.tolist()
    rows = [r[:n] for r, n in zip(torch.stack(b_tok, 1).tolist(), lengths)]  # (B, steps) -> ragged
    logps = [r[:n] for r, n in zip(torch.stack(b_logp, 1).tolist(), lengths)]
    ents = [r[:n] for r, n in zip(torch.stack(b_ent, 1).tolist(), lengths)]
    reasons = ["stop" if f else "length" for f in finished.tolist()]
    return Decoded(token_ids=rows, logprobs=logps, entropies=ents, finish_reasons=reasons)


def _cache_keyword(model) -> str:
    """``cache`` where the model's forward takes it (transformers 5 renamed ``past_key_values``, which goes
    in 5.40), else ``past_key_values``. A PEFT wrapper passes keywords through to its base model."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return _forward_cache_keyword(type(base))


@functools.cache
def _forward_cache_keyword(model_class: type) -> str:
    return "cache" if "cache" in inspect.signature(model_class.forward).parameters else "past_key_values"
