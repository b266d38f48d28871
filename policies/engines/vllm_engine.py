"""The ``vllm`` rollout engine: an in-process ``vllm.LLM`` that takes the trained weights after each update."""

from __future__ import annotations

from typing import Any

from agentgym.policy import Generation, SamplingParams
from policies.engines.base import EngineBase


class VLLMEngine(EngineBase):
    """Samples with ``policies.vllm.VLLMPolicy`` from the trained policy's token ids.

    Sync copies the merged weights (LoRA deltas merged into the base) into vLLM's model with
    ``load_weights``; the engine must run in this process (vLLM V1 with
    ``VLLM_ENABLE_V1_MULTIPROCESSING=0``, which this engine sets before vLLM starts).
    """

    backend = "vllm"
    rescores = True

    def __init__(self, policy, model_path: str, version: int, **engine_kwargs: Any):
        import os

        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        import json
        from pathlib import Path

        from policies.vllm import VLLMPolicy

        super().__init__(policy, version)
        dtype = str(next(policy.model.parameters()).dtype).removeprefix("torch.")
        adapter = Path(model_path, "adapter_config.json")
        base = json.loads(adapter.read_text())["base_model_name_or_path"] if adapter.exists() else model_path
        self.vllm = VLLMPolicy(base, **{"dtype": dtype, "entropy_topk": None, **engine_kwargs})
        if adapter.exists():  # vLLM starts from the base model; the trained adapters arrive merged
            self.load(self.snapshot(policy), version)

    def _generate(self, prompt_ids: list[list[int]], sampling: SamplingParams) -> list[Generation]:
        return self.vllm.generate_ids(prompt_ids, sampling)

    def snapshot(self, policy: Any) -> list[tuple[str, Any]]:
        from policies.vllm import merged_state

        return [(name, tensor.detach().to("cpu", copy=True)) for name, tensor in merged_state(policy.model)]

    def load(self, weights: list[tuple[str, Any]], version: int) -> None:
        self.vllm.load_weights_from(weights)
        self.version = version
