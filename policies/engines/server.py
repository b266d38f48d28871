"""The ``server`` generation engine: rollouts on an OpenAI-compatible server, weights pushed after each update.

Prompts are tokenised here, by the trained policy, and sent as token ids to ``/v1/completions``
(many per request), so the engine decodes exactly the ids the trainer will score; the answers must
carry the response token ids and their log-probs (vLLM's ``return_token_ids`` extension, which
``policies.serve`` honours too). Two kinds of server take weights:

* the project's own (``python -m policies.serve``): ``POST /agentgym/weights`` with a safetensors
  snapshot (LoRA: the adapter tensors only); each answer names the version that produced it;
* ``vllm serve`` started with ``VLLM_SERVER_DEV_MODE=1``: the merged weights are written to a folder
  both processes can read, and the server reloads them in place (``/collective_rpc`` ``reload_weights``,
  then ``/reset_prefix_cache`` so no cache of the old weights survives, then ``/update_weight_version``).
  LoRA policies write only the adapter there, loaded as a new adapter (``/v1/load_lora_adapter``,
  with ``--enable-lora`` and ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=1``) that requests then name as model.
  vLLM's NCCL and CUDA-IPC weight-transfer backends need GPUs and are not used here.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from agentgym.core.policy import Generation, SamplingParams
from policies.engines.base import EngineBase
from policies.openai_api import OpenAIPolicy
from policies.weights import (
    TOKEN_ENV,
    TOKEN_HEADER,
    VERSION_HEADER,
    WeightSnapshot,
    snapshot,
    to_bytes,
    write_adapter,
)


class ServerEngine(EngineBase):
    backend = "server"
    rescores = True

    def __init__(self, policy, base_url: str, version: int, model: str | None = None, timeout_s: float = 600.0,
                 process=None, sync_dir: str | Path | None = None, prompts_per_request: int = 256,
                 concurrency: int = 4, weights_token: str | None = None):
        import os

        super().__init__(policy, version)
        self.weights_token = weights_token or getattr(process, "weights_token", None) or os.environ.get(TOKEN_ENV)
        root = base_url.rstrip("/").removesuffix("/v1")
        self.base_url, self.process = root + "/v1", process
        self.http = OpenAIPolicy(model or "", root, timeout=timeout_s, concurrency=concurrency)
        self.prompts_per_request, self.concurrency = prompts_per_request, concurrency
        self.kind = self._server_kind()
        self.http.model = model or self._first_model()
        self.sync_dir = Path(sync_dir) if sync_dir is not None else None

    # ---- generation ---------------------------------------------------------------------------
    def _generate(self, prompt_ids: list[list[int]], sampling: SamplingParams) -> list[Generation]:
        chunks = [prompt_ids[i:i + self.prompts_per_request] for i in range(0, len(prompt_ids), self.prompts_per_request)]
        if len(chunks) <= 1:
            return [g for chunk in chunks for g in self._complete(chunk, sampling)]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(chunks))) as pool:
            return [g for part in pool.map(lambda c: self._complete(c, sampling), chunks) for g in part]

    def request_body(self, prompt_ids: list[list[int]], sampling: SamplingParams) -> dict[str, Any]:
        greedy = sampling.greedy or sampling.temperature <= 0
        body: dict[str, Any] = {
            "model": self.http.model, "prompt": prompt_ids, "max_tokens": sampling.max_new_tokens,
            "temperature": 0.0 if greedy else sampling.temperature, "top_p": 1.0 if greedy else sampling.top_p,
            "logprobs": 0, "return_token_ids": True, "include_stop_str_in_output": True, "skip_special_tokens": True,
        }
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if sampling.seed is not None:
            body["seed"] = int(sampling.seed)
        return body

    def _complete(self, prompt_ids: list[list[int]], sampling: SamplingParams) -> list[Generation]:
        data = self.http.post("/v1/completions", self.request_body(prompt_ids, sampling))
        choices = sorted(data.get("choices") or [], key=lambda c: c.get("index", 0))
        if len(choices) != len(prompt_ids):
            raise RuntimeError(f"{self.base_url}/completions answered {len(choices)} choices for {len(prompt_ids)} prompts")
        return [self._generation(ids, choice) for ids, choice in zip(prompt_ids, choices)]

    def _generation(self, prompt_ids: list[int], choice: dict[str, Any]) -> Generation:
        token_ids = choice.get("token_ids")
        if token_ids is None:
            raise RuntimeError(f"{self.base_url} returned no token ids: the server backend needs an engine that "
                               "honours return_token_ids (vLLM >= 0.10.2, SGLang, python -m policies.serve)")
        served_prompt = choice.get("prompt_token_ids")
        if served_prompt is not None and list(served_prompt) != prompt_ids:
            raise RuntimeError(f"{self.base_url} decoded other prompt ids than it was sent; samples would not be "
                               "token-exact")
        logprobs = [float(x) for x in ((choice.get("logprobs") or {}).get("token_logprobs") or [])]
        version = choice.get("agentgym_policy_version")
        if version is not None and int(version) != self.version:
            raise RuntimeError(f"{self.base_url} served policy version {version}, but the trainer last pushed "
                               f"version {self.version}: the server restarted or someone else loaded weights into "
                               "it. Its samples would not be the trained policy's; resume the run (--resume true)")
        return Generation(text=choice.get("text") or "", prompt_ids=list(prompt_ids), token_ids=list(token_ids),
                          logprobs=logprobs if len(logprobs) == len(token_ids) else [],
                          finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
                          policy_version=int(version) if version is not None else self.version)

    # ---- weight sync --------------------------------------------------------------------------
    def snapshot(self, policy: Any) -> WeightSnapshot | list[tuple[str, Any]]:
        if self.kind == "agentgym" or getattr(policy, "is_lora", False):
            return snapshot(policy.model)  # LoRA: the adapter tensors only
        from policies.vllm import merged_snapshot

        return merged_snapshot(policy.model)

    def load(self, weights, version: int) -> None:
        if not self.pushes_weights:  # the rank that owns the server pushes; the trainer waits for it
            self.version = version
            return
        if self.kind == "agentgym":
            headers = {VERSION_HEADER: str(version), "Content-Type": "application/octet-stream"}
            if self.weights_token:
                headers[TOKEN_HEADER] = self.weights_token
            self.http.post("/agentgym/weights", content=to_bytes(weights), headers=headers)
        elif isinstance(weights, WeightSnapshot):
            self._vllm_switch_adapter(weights, version)
        else:
            self._vllm_reload(weights, version)
        self.version = version

    def _vllm_switch_adapter(self, weights: WeightSnapshot, version: int) -> None:
        if self.sync_dir is None:
            raise RuntimeError("vllm serve loads LoRA adapters from a folder: give the engine a sync_dir")
        folder, name, previous = self.sync_dir / f"lora_v{version}", f"policy-v{version}", self.http.model
        write_adapter(folder, self.trained.model.peft_config["default"], weights)
        self.http.post("/v1/load_lora_adapter", {"lora_name": name, "lora_path": str(folder)})
        self.http.model = name  # requests name the adapter as their model
        if previous.startswith("policy-v"):
            self.http.post("/v1/unload_lora_adapter", {"lora_name": previous})
            shutil.rmtree(self.sync_dir / f"lora_v{previous.removeprefix('policy-v')}", ignore_errors=True)

    def _vllm_reload(self, named_tensors: list[tuple[str, Any]], version: int) -> None:
        from safetensors.torch import save_file

        if self.sync_dir is None:
            raise RuntimeError("vllm serve reloads weights from a folder: give the engine a sync_dir both "
                               "processes can read")
        folder = self.sync_dir / f"v{version}"
        folder.mkdir(parents=True, exist_ok=True)
        save_file({n: t.contiguous() for n, t in named_tensors}, str(folder / "model.safetensors"))
        self.trained.model.config.save_pretrained(folder)
        self.http.post("/collective_rpc", {"method": "reload_weights", "kwargs": {"weights_path": str(folder)}})
        self.http.post("/reset_prefix_cache", {})
        self.http.post("/update_weight_version", {"new_version": str(version)})
        for old in self.sync_dir.glob("v*"):
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)

    # ---- discovery and shutdown ---------------------------------------------------------------
    def _server_kind(self) -> str:
        import httpx

        try:
            if self.http.client.get("/agentgym/info").status_code == 200:
                return "agentgym"
            if self.http.client.get("/weight_info").status_code == 200:
                return "vllm"
        except httpx.HTTPError as exc:
            raise RuntimeError(f"cannot reach the rollout server at {self.base_url}: {exc!r}") from exc
        raise RuntimeError(f"{self.base_url} has no weight-update API: use python -m policies.serve, or start "
                           "vllm serve with VLLM_SERVER_DEV_MODE=1 (its /collective_rpc and /weight_info routes)")

    def _first_model(self) -> str:
        response = self.http.client.get("/v1/models")
        response.raise_for_status()
        models = response.json().get("data") or []
        if not models:
            raise RuntimeError(f"{self.base_url}/models lists no model")
        return models[0]["id"]

    def close(self) -> None:
        self.http.close()
        if self.process is not None:
            self.process.stop()
