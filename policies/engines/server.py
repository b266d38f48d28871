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

``timeout_s`` (``engine_timeout_s``) bounds one request **with its retries**: a frozen server fails the
run after that long, not after five timeouts and their backoff. Within it, a server that refuses
connections is waited for (it may be restarting); once it answers again, the weights it lost are put
back before any sample is taken: the last push again (kept on disk in ``sync_dir``, else in memory)
for the project's server, which tells a restart apart from a foreign push by its ``instance`` id; the
folder of the last version for ``vllm serve`` (reloaded after any lost connection, as vLLM cannot say
whether it restarted).
"""

from __future__ import annotations

import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from agentgym.core.policy import Generation, SamplingParams
from policies.engines.base import EngineBase
from policies.openai_api import RETRY_STATUS, EndpointUnavailable, OpenAIPolicy
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
        self.timeout_s, self.backoff_s = timeout_s, 0.5
        self.prompts_per_request, self.concurrency = prompts_per_request, concurrency
        self.instance: str | None = None  # the project's server: which run of it holds our weights
        self.kind = self._server_kind()
        self.http.model = model or self._first_model()
        self.sync_dir = Path(sync_dir) if sync_dir is not None else None
        self._last_push: bytes | Path | None = None  # the project's server: the payload of the last push
        self._restore_lock = threading.RLock()

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
        for attempt in range(2):
            data = self.post("/v1/completions", self.request_body(prompt_ids, sampling))
            choices = sorted(data.get("choices") or [], key=lambda c: c.get("index", 0))
            if len(choices) != len(prompt_ids):
                raise RuntimeError(f"{self.base_url}/completions answered {len(choices)} choices for "
                                   f"{len(prompt_ids)} prompts")
            if attempt == 0 and self._served_version(choices) not in (None, self.version) and self._restore(data):
                continue  # the server restarted between two requests: its weights are back, sample again
            return [self._generation(ids, choice) for ids, choice in zip(prompt_ids, choices)]
        raise AssertionError("unreachable")

    @staticmethod
    def _served_version(choices: list[dict[str, Any]]) -> int | None:
        versions = {c.get("agentgym_policy_version") for c in choices} - {None}
        return int(versions.pop()) if len(versions) == 1 else None

    # ---- one request: a deadline for it and its retries, a wait for a restarting server ---------
    def post(self, path: str, body: dict[str, Any] | None = None, content: bytes | None = None,
             headers: dict[str, str] | None = None, restore: bool = True) -> dict[str, Any]:
        """POST, retried until ``timeout_s`` after the first try (the whole wait, as ``engine_timeout_s``
        promises). Refused connections, timeouts, 429 and 5xx are retried; after a lost connection the
        server's weights are restored before the answer is used (``restore``)."""
        import httpx

        deadline, attempt, last, lost = time.monotonic() + self.timeout_s, 0, "no attempt made", False
        while (left := deadline - time.monotonic()) > 0:
            if attempt:
                time.sleep(min(self.backoff_s * 2 ** min(attempt - 1, 3), left))  # at most 4 s between tries
                if (left := deadline - time.monotonic()) <= 0:
                    break
            attempt += 1
            try:
                response = self.http.client.post(path, json=body, content=content, headers=headers, timeout=left)
            except httpx.TimeoutException as exc:
                last = f"no answer within {self.timeout_s:.0f} s ({type(exc).__name__})"
                continue
            except httpx.TransportError as exc:  # refused or reset: down, or restarting
                last, lost = f"{type(exc).__name__}: {exc}", True
                continue
            if response.status_code in RETRY_STATUS:
                last = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            if response.status_code >= 400:
                raise RuntimeError(f"{self.base_url.removesuffix('/v1')}{path} rejected the request with HTTP "
                                   f"{response.status_code}: {response.text[:500]}")
            if lost and restore:
                self._restore(None)
                if path == "/v1/completions" and self.kind == "vllm":  # answered before the reload: again
                    return self.post(path, body, content, headers, restore=False)
            try:
                return response.json()
            except ValueError:  # control routes (vLLM's LoRA loading) answer in plain text
                return {"text": response.text}
        raise EndpointUnavailable(f"the rollout server at {self.base_url} did not answer {path} within "
                                  f"engine_timeout_s={self.timeout_s:g} s ({attempt} tries; last: {last})")

    def _restore(self, answer: dict[str, Any] | None) -> bool:
        """Put the last pushed weights back into a server that lost them (it restarted); whether it did."""
        if not self.pushes_weights or self.version < 0:
            return False
        with self._restore_lock:
            if self.kind == "agentgym":
                info = self._info()
                if info.get("instance") == self.instance and info.get("policy_version") == self.version:
                    return answer is not None  # another thread restored it already
                if info.get("instance") == self.instance or self._last_push is None:
                    return False  # the same run of the server: someone else pushed; _generation says so
                payload = self._last_push.read_bytes() if isinstance(self._last_push, Path) else self._last_push
                self._push_agentgym(payload, self.version)
                self.instance = info.get("instance")
                return True
            if self.sync_dir is None:
                return False
            lora = self.sync_dir / f"lora_v{self.version}"
            if lora.is_dir():
                self.post("/v1/load_lora_adapter", {"lora_name": f"policy-v{self.version}", "lora_path": str(lora)},
                          restore=False)
            elif (self.sync_dir / f"v{self.version}").is_dir():
                self._vllm_reload_folder(self.sync_dir / f"v{self.version}", self.version)
            return True

    def _info(self) -> dict[str, Any]:
        import httpx

        try:
            response = self.http.client.get("/agentgym/info", timeout=min(30.0, self.timeout_s))
            return response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return {}

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
            payload = to_bytes(weights)
            with self._restore_lock:
                self._push_agentgym(payload, version)
                self._keep(payload)
        elif isinstance(weights, WeightSnapshot):
            self._vllm_switch_adapter(weights, version)
        else:
            self._vllm_reload(weights, version)
        self.version = version

    def _push_agentgym(self, payload: bytes, version: int) -> None:
        """A push carries every weight, so it needs no restore, even when it reached a restarted server."""
        headers = {VERSION_HEADER: str(version), "Content-Type": "application/octet-stream"}
        if self.weights_token:
            headers[TOKEN_HEADER] = self.weights_token
        self.post("/agentgym/weights", content=payload, headers=headers, restore=False)
        info = self._info()
        if info.get("policy_version") == version:
            self.instance = info.get("instance", self.instance)

    def _keep(self, payload: bytes) -> None:
        """The last push, for a server that restarts: on disk in ``sync_dir`` when there is one."""
        if self.sync_dir is None:
            self._last_push = payload
            return
        self.sync_dir.mkdir(parents=True, exist_ok=True)
        path = self.sync_dir / "last_push.safetensors"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(payload)
        tmp.replace(path)
        self._last_push = path

    def _vllm_switch_adapter(self, weights: WeightSnapshot, version: int) -> None:
        if self.sync_dir is None:
            raise RuntimeError("vllm serve loads LoRA adapters from a folder: give the engine a sync_dir")
        folder, name, previous = self.sync_dir / f"lora_v{version}", f"policy-v{version}", self.http.model
        write_adapter(folder, self.trained.model.peft_config["default"], weights)
        self.post("/v1/load_lora_adapter", {"lora_name": name, "lora_path": str(folder)}, restore=False)
        self.http.model = name  # requests name the adapter as their model
        if previous.startswith("policy-v"):
            self.post("/v1/unload_lora_adapter", {"lora_name": previous}, restore=False)
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
        self._vllm_reload_folder(folder, version)
        for old in self.sync_dir.glob("v*"):
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)

    def _vllm_reload_folder(self, folder: Path, version: int) -> None:
        self.post("/collective_rpc", {"method": "reload_weights", "kwargs": {"weights_path": str(folder)}},
                  restore=False)
        self.post("/reset_prefix_cache", {}, restore=False)
        self.post("/update_weight_version", {"new_version": str(version)}, restore=False)

    # ---- discovery and shutdown ---------------------------------------------------------------
    def _server_kind(self) -> str:
        import httpx

        try:
            info = self.http.client.get("/agentgym/info")
            if info.status_code == 200:
                self.instance = info.json().get("instance")
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
