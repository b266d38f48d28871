"""Fit every prompt into the model's context before generation, by one documented rule, counted.

A prompt is measured in tokens by the policy (``count_prompt_tokens``). When it is longer than
``max_prompt_tokens`` it is shortened step by step until it fits (docs/rollout.md, "Context guard"):

1. drop history steps, oldest first;
2. cut the current observation to its head and tail around a marker (``agentgym.util.text_cut``);
3. cut the task text the same way.

Nothing is cut anywhere else (the tokenizer and the engines get prompts that fit). A prompt that
cannot fit even then (the system prompt alone is too long) is an error, never a silent cut.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agentgym.core.types import Messages
from agentgym.rollout.prompts import HistoryItem, PromptFormat
from agentgym.util.text_cut import cut_middle

TokenCounter = Callable[[list[Messages]], list[int]]
MIN_CHARS = 64  # observations and tasks are never cut below this


@dataclass
class ContextGuard:
    """``max_prompt_tokens`` None or no ``count`` (a scripted policy): prompts pass unmeasured."""

    max_prompt_tokens: int | None
    count: TokenCounter | None = None
    overhead_tokens: int = 0  # tokens of the chat template around empty messages (an upper-bound shortcut)
    prompt: PromptFormat = field(default_factory=PromptFormat)  # the style every prompt is written in

    def build(self, task: str | None, observation: str, history: Sequence[HistoryItem],
              admissible: Sequence[str] | None, history_len: int) -> tuple[Messages, bool]:
        """(messages, whether they had to be shortened)."""
        messages = self.prompt.build(task, observation, history, admissible, history_len)
        if self.max_prompt_tokens is None or self.count is None or self._surely_fits(messages):
            return messages, False
        if self._fits(messages):
            return messages, False
        shown = min(history_len, len(history))
        bare = self.prompt.build(task, observation, history, admissible, 0)
        if shown and self._fits(bare):  # 1. fewer history steps (when dropping them all is enough)
            for shorter in range(shown - 1, 0, -1):
                messages = self.prompt.build(task, observation, history, admissible, shorter)
                if self._fits(messages):
                    return messages, True
            return bare, True  # measured above
        messages = bare
        for text_is_task in (False, True):  # 2. the observation, then 3. the task
            while True:
                text = task if text_is_task else observation
                if not text or len(text) <= MIN_CHARS:
                    break
                limit = max(MIN_CHARS, self._keep(messages, len(text)))
                if text_is_task:
                    task = cut_middle(task, limit)
                else:
                    observation = cut_middle(observation, limit)
                messages = self.prompt.build(task, observation, history, admissible, 0)
                if self._fits(messages):
                    return messages, True
        raise ValueError(f"a prompt cannot be fitted into max_prompt_tokens={self.max_prompt_tokens} even with its "
                         f"history dropped and its observation and task cut to {MIN_CHARS} characters; raise "
                         "max_prompt_tokens or use a model with a longer context")

    def _surely_fits(self, messages: Messages) -> bool:
        """No token covers less than one UTF-8 byte, so bytes + template overhead bounds the count."""
        size = sum(len(m["content"].encode()) for m in messages)
        return size + self.overhead_tokens <= self.max_prompt_tokens

    def _fits(self, messages: Messages) -> bool:
        self._last = self.count([messages])[0]
        return self._last <= self.max_prompt_tokens

    def _keep(self, messages: Messages, text_chars: int) -> int:
        """Characters of the text to keep next: the overshoot in tokens, turned into characters at the
        prompt's own characters-per-token rate, with 5% to spare (and always fewer than now)."""
        chars = sum(len(m["content"]) for m in messages)
        over_chars = (self._last - self.max_prompt_tokens) * chars / max(self._last, 1)
        return min(int(0.95 * (text_chars - over_chars)), int(0.9 * text_chars))


def guard_for(policy: object, max_prompt_tokens: int | None, max_new_tokens: int,
              prompt: PromptFormat | None = None) -> ContextGuard:
    """The guard of a policy: it measures with ``policy.count_prompt_tokens``; the limit defaults to
    ``policy.context_length - max_new_tokens`` (so the response always has its budget)."""
    count = getattr(policy, "count_prompt_tokens", None)
    if max_prompt_tokens is None:
        context = getattr(policy, "context_length", None)
        max_prompt_tokens = None if context is None else int(context) - int(max_new_tokens)
    if max_prompt_tokens is not None and max_prompt_tokens < 1:
        raise ValueError(f"max_prompt_tokens must be >= 1 (context minus max_new_tokens), got {max_prompt_tokens}")
    prompt = prompt or PromptFormat()
    overhead = 0
    if count is not None and max_prompt_tokens is not None:
        empty = prompt.build(None, "", ())
        overhead = count([empty])[0] + 8 * len(empty)  # slack for tokenizers that add a word-start piece
    return ContextGuard(max_prompt_tokens, count, overhead, prompt)
