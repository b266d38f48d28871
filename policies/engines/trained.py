"""The ``hf`` generation engines: the trained model itself, or a copy of it for asynchronous rollouts."""

from __future__ import annotations

import copy
from typing import Any

from agentgym.core.policy import Generation, SamplingParams
from policies.engines.base import EngineBase
from policies.weights import WeightSnapshot, load_snapshot, snapshot


class TrainedModelEngine(EngineBase):
    """``engine=hf``, synchronous: the trained model samples its own rollouts (nothing to sync).

    Its samples' log-probs and entropies are the trained model's own, so the trainer does not rescore them.
    """

    backend = "hf"
    rescores = False

    def _generate(self, prompt_ids: list[list[int]], sampling: SamplingParams) -> list[Generation]:
        return self._chunks(self.trained, prompt_ids, sampling)

    @staticmethod
    def _chunks(policy, prompt_ids: list[list[int]], sampling: SamplingParams) -> list[Generation]:
        size = policy.max_batch_size or max(1, len(prompt_ids))
        return [g for start in range(0, len(prompt_ids), size)
                for g in policy.generate_ids(prompt_ids[start:start + size], sampling)]

    def snapshot(self, policy: Any) -> None:
        return None

    def load(self, weights: None, version: int) -> None:
        self.version = version


class HFCopyEngine(TrainedModelEngine):
    """``engine=hf`` with ``max_staleness > 0``: a copy of the trained model samples while the
    original trains; each sync copies the weights in (LoRA: the adapter tensors only)."""

    rescores = True

    def __init__(self, policy, version: int, load_from: str | None = None, dtype: str = "float32"):
        """``load_from``: load the copy's weights from this folder instead of copying the trained model
        (which cannot be copied when it is sharded over data-parallel ranks)."""
        super().__init__(policy, version)
        self.copy = copy.copy(policy)  # the same tokenizer and settings ...
        if load_from is None:
            self.copy.model = copy.deepcopy(policy.model).eval()  # ... and weights of its own
        else:
            from policies.hf import HFPolicy

            self.copy.model = HFPolicy.from_pretrained(load_from, dtype=dtype, trainable=False).model
        self.copy.model.requires_grad_(False)

    def _generate(self, prompt_ids: list[list[int]], sampling: SamplingParams) -> list[Generation]:
        return self._chunks(self.copy, prompt_ids, sampling)

    def snapshot(self, policy: Any) -> WeightSnapshot:
        return snapshot(policy.model)

    def load(self, weights: WeightSnapshot, version: int) -> None:
        load_snapshot(self.copy.model, weights)
        self.version = version
