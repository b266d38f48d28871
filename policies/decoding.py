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
    """Sample up to ``sampling.max_new_tokens`` tokens for every prompt in one batched loop.

    A row that finishes (EOS or a stop string) leaves the batch and its KV cache at once, so the
    remaining steps cost what the live rows need: rollout responses stop at ``</action>`` after very
    different lengths. Each live row samples from its own logits, so which rows share a step changes
    no greedy output.
    """
    from transformers import DynamicCache

    device = next(model.parameters()).device
    ids, mask = left_pad(prompt_ids, pad_id, device)  # (B, P)
    batch = ids.shape[0]
    generator = None
    if sampling.seed is not None:
        generator = torch.Generator(device=device).manual_seed(int(sampling.seed))
    eos = set(int(e) for e in eos_ids)
    cache = DynamicCache(config=model.config)
    pos = positions(mask)
    cache_kw = {_cache_keyword(model): cache}
    out = model(input_ids=ids, attention_mask=mask, position_ids=pos, **cache_kw, use_cache=True, logits_to_keep=1)
    tokens: list[list[int]] = [[] for _ in range(batch)]
    logps: list[list[float]] = [[] for _ in range(batch)]
    ents: list[list[float]] = [[] for _ in range(batch)]
    reasons = ["length"] * batch
    live = list(range(batch))  # the prompt index of each row still in the batch
    for step in range(sampling.max_new_tokens):
        logits = out.logits[:, -1].float()  # (b, V), b = len(live)
        logp = torch.log_softmax(logits, dim=-1)
        token = choose_tokens(logits, sampling, generator)
        chosen_logp = logp.gather(-1, token[:, None]).squeeze(-1)
        for row, t, lp, ent in zip(live, token.tolist(), chosen_logp.tolist(), token_entropy(logp).tolist()):
            tokens[row].append(t)
            logps[row].append(lp)
            ents[row].append(ent)
        done = {j for j, row in enumerate(live) if tokens[row][-1] in eos}
        if stops.stop:
            done.update(j for j, row in enumerate(live) if j not in done and stops.hits([tokens[row]], [0]))
        for j in done:
            reasons[live[j]] = "stop"
        if len(done) == len(live) or step + 1 == sampling.max_new_tokens:
            break
        if done:  # the finished rows leave the batch, the cache included
            keep = torch.as_tensor([j for j in range(len(live)) if j not in done], dtype=torch.long, device=device)
            cache.batch_select_indices(keep)
            mask, pos, token = mask[keep], pos[keep], token[keep]
            live = [live[j] for j in keep.tolist()]
        mask = torch.cat([mask, torch.ones((len(live), 1), dtype=mask.dtype, device=device)], dim=1)
        pos = pos[:, -1:] + 1
        out = model(input_ids=token[:, None], attention_mask=mask, position_ids=pos, **cache_kw, use_cache=True)
    return Decoded(token_ids=tokens, logprobs=logps, entropies=ents, finish_reasons=reasons)


def _cache_keyword(model) -> str:
    """``cache`` where the model's forward takes it (transformers 5 renamed ``past_key_values``, which goes
    in 5.40), else ``past_key_values``. A PEFT wrapper passes keywords through to its base model."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return _forward_cache_keyword(type(base))


@functools.cache
def _forward_cache_keyword(model_class: type) -> str:
    return "cache" if "cache" in inspect.signature(model_class.forward).parameters else "past_key_values"
