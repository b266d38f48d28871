"""The one protocol every policy implements (docs/architecture.md, "Contracts").

Rollouts and evaluation only call ``generate``; the trainer additionally needs a
``TrainablePolicy`` that can re-score responses with gradients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from agentgym.core.types import Messages


@dataclass
class SamplingParams:
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 64
    stop: tuple[str, ...] = ()
    seed: int | None = None
    greedy: bool = False


@dataclass
class Generation:
    """One sampled response. ``logprobs``/``entropies`` are per response token.

    ``entropies`` are entropies of the full next-token distribution at temperature 1 (not of the
    sampled token only); scripted policies leave token fields empty.
    """

    text: str
    prompt_ids: list[int] = field(default_factory=list)
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    entropies: list[float] = field(default_factory=list)
    finish_reason: str = "stop"
    policy_version: int | None = None  # updates the weights had seen when this was sampled (generation engines set it)


@runtime_checkable
class Policy(Protocol):
    def generate(self, prompts: list[Messages], sampling: SamplingParams,
                 infos: list[dict[str, Any]] | None = None) -> list[Generation]:
        """Sample one response per prompt. ``infos`` are the environments' current info dicts plus
        ``"step"``, the episode's step index (scripted policies read ``expert_action`` /
        ``admissible_actions`` / ``step`` from them; LLMs ignore them). Expensive info values
        (``expert_action``, ``expert_steps_left``) are deferred by some environments and filled in
        only for the keys a policy lists in an ``info_keys`` attribute; unlisted ones read None."""
        ...


@runtime_checkable
class TrainablePolicy(Policy, Protocol):
    """A policy backed by a torch model the trainer updates in place.

    ``score(prompt_ids, response_ids)`` runs one teacher-forced forward pass with gradients and
    returns ``(logprobs, entropies, mask)``, each a float tensor of shape (B, T_resp) right-padded
    (mask 1 on real response tokens).
    """

    model: Any
    tokenizer: Any

    def score(self, prompt_ids: list[list[int]], response_ids: list[list[int]],
              with_entropy: bool = False) -> tuple[Any, Any, Any]: ...

    def save(self, path: str) -> None: ...
