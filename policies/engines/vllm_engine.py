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
    policies on a GPU: vLLM serves the base model with LoRA enabled, and each sync writes only the
    adapter (a peft folder) and switches to it as a new adapter id, so no base weight is copied again.
    LoRA policies on a CPU sync their merged weights like a full model: vLLM's CPU build applies
    adapters with reference torch ops that gather the adapter matrices per token (SmolLM2-135M on a
    loaded machine, 2026-12-07: the first 16-prompt prefill with an adapter had not finished after
    20 minutes; without one it took seconds). The engine runs in this
    process (vLLM V1 with ``VLLM_ENABLE_V1_MULTIPROCESSING=0``, set here before vLLM starts).
    """

    backend = "vllm"
    rescores = True

    def __init__(self, policy, model_path: str, version: int, **engine_kwargs: Any):
        in_process_defaults()
        from policies.vllm import VLLMPolicy

        super().__init__(policy, version)
        dtype = str(next(policy.model.parameters()).dtype).removeprefix("torch.")
        adapter = Path(model_path, "adapter_config.json")
        base = json.loads(adapter.read_text())["base_model_name_or_path"] if adapter.exists() else model_path
        self.lora_config = None
        if getattr(policy, "is_lora", False) and not _on_cpu():
            self.lora_config = policy.model.peft_config["default"]
        self.lora_request, self.lora_dir = None, None
        if self.lora_config is not None:
            self.lora_dir = Path(tempfile.mkdtemp(prefix="agentgym-vllm-lora-"))
            engine_kwargs = {"enable_lora": True, "max_lora_rank": _lora_rank(self.lora_config.r), "max_loras": 1,
                             **engine_kwargs}
        self.vllm = VLLMPolicy(base, **{"dtype": dtype, "entropy_topk": None, **engine_kwargs})
        if getattr(policy, "is_lora", False):  # vLLM loaded the base: the trained adapter from the start
            self.load(self.snapshot(policy), version)

    @property
    def context_length(self) -> int | None:
        """The shorter of the trained model's context and vLLM's ``max_model_len``: the context guard fits
        prompts to it, so vLLM never refuses a prompt as too long for the engine."""
        served = getattr(getattr(self.vllm.llm, "model_config", None), "max_model_len", None)
        lengths = [int(n) for n in (self.trained.context_length, served) if n is not None]
        return min(lengths) if lengths else None

    def _generate(self, prompt_ids: list[list[int]], sampling: SamplingParams) -> list[Generation]:
        try:
            return self.vllm.generate_ids(prompt_ids, sampling, lora_request=self.lora_request)
        except Exception as exc:  # vLLM's engine died (EngineDeadError), ran out of KV cache space, ...
            raise RuntimeError(
                f"the in-process vLLM engine failed while generating for {len(prompt_ids)} prompts "
                f"({type(exc).__name__}: {exc}); no sample of this batch is used. Resume from the last "
                "checkpoint with --resume true; --engine hf samples with the trained model instead") from exc

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


def in_process_defaults() -> None:
    """Environment defaults for a vLLM that shares this process with the trainer (a user's setting wins).

    vLLM V1 runs in process only without its multiprocessing. On a CPU it would otherwise bind its
    OpenMP threads to one core per physical core less one reserved for a scheduler process, and cut
    torch to one thread "for serving", which would also halve the trainer's update; here it takes
    every CPU this process may use and leaves torch's thread count as the trainer set it. Its KV cache
    gets 4 GiB unless ``VLLM_CPU_KVCACHE_SPACE`` says otherwise: by default the CPU build claims most of
    the node's memory (20.2 of 23.5 GiB on this project's 24 GiB machine), none left for the trainer.
    4 GiB hold about 186,000 bfloat16 tokens of SmolLM2-135M (23 KB a token: 30 layers x 2 x 3 x 64).
    """
    import os

    import torch

    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "4")  # GiB
    cpus = sorted(os.sched_getaffinity(0))
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", ",".join(map(str, cpus)))
    os.environ.setdefault("OMP_NUM_THREADS", str(torch.get_num_threads()))


def _on_cpu() -> bool:
    """Whether vLLM runs on its CPU platform (the community CPU build)."""
    from vllm.platforms import current_platform

    return current_platform.is_cpu()


def _lora_rank(rank: int) -> int:
    """vLLM accepts only some ranks as ``max_lora_rank``; the smallest that holds ``rank``."""
    for allowed in (8, 16, 32, 64, 128, 256, 320, 512):
        if rank <= allowed:
            return allowed
    return rank
