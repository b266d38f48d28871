"""What every generation engine shares: the trained policy's tokenizer and context guard, version stamps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentgym.core.policy import Generation, SamplingParams
from agentgym.core.types import Messages


class EngineBase:
    """Prompts are tokenised by the trained policy (so engine and trainer see the same ids) and every
    generation is stamped with the policy version of the weights that produced it."""

    backend = ""
    rescores = True
    pushes_weights = True  # False: another rank pushes each version into the server this engine shares
    choice = ""  # engine=auto: why this engine was picked

    def __init__(self, policy, version: int):
        self.trained = policy  # the TrainablePolicy: tokenizer, chat template, context length
        self.version = version

    def encode_prompts(self, prompts: Sequence[Messages]) -> list[list[int]]:
        return self.trained.encode_prompts(prompts)

    def count_prompt_tokens(self, prompts: Sequence[Messages]) -> list[int]:
        return self.trained.count_prompt_tokens(prompts)

    @property
    def context_length(self) -> int | None:
        return self.trained.context_length

    def generate(self, prompts: list[Messages], sampling: SamplingParams | None = None,
                 infos: list[dict[str, Any]] | None = None) -> list[Generation]:
        out = self._generate(self.encode_prompts(prompts), sampling or SamplingParams())
        for gen in out:
            if gen.policy_version is None:
                gen.policy_version = self.version
        return out

    def _generate(self, prompt_ids: list[list[int]], sampling: SamplingParams) -> list[Generation]:
        raise NotImplementedError

    def close(self) -> None:
        pass
