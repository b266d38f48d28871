"""The ``vllm`` generation engine: an in-process ``vllm.LLM`` that takes the trained weights after each update."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from agentgym.core.policy import Generation, SamplingParams
from policies.engines.base import EngineBase
from policies.weights import WeightSnapshot, snapshot, write_adapter

ADAPTER_ID_OFFSET = 1  # vLLM's LoRA ids start at 1; version v is adapter id v + 1


class VLLMEngine(EngineBase):
    """Samples with ``policies.vllm.VLLMPolicy`` from the trained policy's token ids.

    Full models: each sync reloads the weights in place (``VLLMPolicy.load_weights_from``). LoRA
    policies: vLLM serves the base model with LoRA enabled, and each sync writes only the adapter
    (a peft folder) and switches to it as a new adapter id, so no base weight is copied again. The
    engine runs in this process (vLLM V1 with ``VLLM_ENABLE_V1_MULTIPROCESSING=0``, set here before
    vLLM starts).
    """

    backend = "vllm"
    rescores = True

    def __init__(self, policy, model_path: str, version: int, **engine_kwargs: Any):
        import os

        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        from policies.vllm import VLLMPolicy

        super().__init__(policy, version)
        dtype = str(next(policy.model.parameters()).dtype).removeprefix("torch.")
        adapter = Path(model_path, "adapter_config.json")
        base = json.loads(adapter.read_text())["base_model_name_or_path"] if adapter.exists() else model_path
        self.lora_config = policy.model.peft_config["default"] if getattr(policy, "is_lora", False) else None
        self.lora_request, self.lora_dir = None, None
        if self.lora_config is not None:
            self.lora_dir = Path(tempfile.mkdtemp(prefix="agentgym-vllm-lora-"))
            engine_kwargs = {"enable_lora": True, "max_lora_rank": _lora_rank(self.lora_config.r), "max_loras": 1,
                             **engine_kwargs}
        self.vllm = VLLMPolicy(base, **{"dtype": dtype, "entropy_topk": None, **engine_kwargs})
        if self.lora_config is not None:  # the trained adapter from the start
            self.load(self.snapshot(policy), version)

    def _generate(self, prompt_ids: list[list[int]], sampling: SamplingParams) -> list[Generation]:
        return self.vllm.generate_ids(prompt_ids, sampling, lora_request=self.lora_request)

    def snapshot(self, policy: Any) -> WeightSnapshot | list[tuple[str, Any]]:
        if self.lora_config is not None:
            return snapshot(policy.model)  # the adapter tensors only
        from policies.vllm import merged_snapshot

        return merged_snapshot(policy.model)

    def load(self, weights, version: int) -> None:
        if self.lora_config is None:
            self.vllm.load_weights_from(weights)
        else:
            self._switch_adapter(weights, version)
        self.version = version

    def _switch_adapter(self, weights: WeightSnapshot, version: int) -> None:
        from vllm.lora.request import LoRARequest

        folder = self.lora_dir / f"v{version}"
        write_adapter(folder, self.lora_config, weights)
        previous = self.lora_request
        self.lora_request = LoRARequest(f"policy-v{version}", version + ADAPTER_ID_OFFSET, str(folder))
        if previous is not None:  # vLLM read it when first used; drop it from the engine and from disk
            self.vllm.llm.llm_engine.remove_lora(previous.lora_int_id)
            shutil.rmtree(previous.lora_path, ignore_errors=True)

    def close(self) -> None:
        if self.lora_dir is not None:
            shutil.rmtree(self.lora_dir, ignore_errors=True)


def _lora_rank(rank: int) -> int:
    """vLLM accepts only some ranks as ``max_lora_rank``; the smallest that holds ``rank``."""
    for allowed in (8, 16, 32, 64, 128, 256, 320, 512):
        if rank <= allowed:
            return allowed
    return rank
