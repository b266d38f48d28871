"""Chat completions against any OpenAI-compatible endpoint (vLLM, SGLang, llama.cpp, hosted APIs).

Used by evaluation. Requests of a batch run concurrently (a thread pool over one ``httpx.Client``),
each with a timeout and retries with exponential backoff on connection errors, timeouts, 429 and
5xx. A dead endpoint fails with ``EndpointUnavailable`` naming the URL instead of a stack of
socket errors.

Token fields: the standard API returns no token ids, so ``prompt_ids``/``token_ids`` stay empty
(servers that honour vLLM's ``return_token_ids`` extension fill them: ``extra_body={"return_token_ids": True}``);
with ``logprobs=True`` the per-token log-probs the server reports are returned (vLLM reports the
temperature-1 "raw" log-probs by default). Entropies are not available over this API.
Servers drop the stop string from the text (OpenAI convention); with a single stop string and
``finish_reason == "stop"`` the policy appends it back so ``parse_action`` still finds
``</action>``. Pass ``restore_stop=False`` to keep the server's text.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agentgym.core.policy import Generation, SamplingParams
from agentgym.core.types import Messages

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class EndpointUnavailable(RuntimeError):
    """The endpoint could not be reached (or kept failing) after every retry."""


class OpenAIPolicy:
    """``Policy`` over ``POST {base_url}/chat/completions``."""

    def __init__(self, model: str, base_url: str = "http://localhost:8000/v1", api_key: str | None = None,
                 concurrency: int = 16, timeout: float = 60.0, max_retries: int = 4, backoff: float = 0.5,
                 logprobs: bool = False, restore_stop: bool = True, extra_body: dict[str, Any] | None = None):
        import httpx

        self.model = model
        self.base_url = base_url.rstrip("/")
        self.concurrency = max(1, concurrency)
        self.max_retries = max_retries
        self.backoff = backoff
        self.logprobs = logprobs
        self.restore_stop = restore_stop
        self.extra_body = dict(extra_body or {})
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        self.client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, limits=limits)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> OpenAIPolicy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def generate(self, prompts: list[Messages], sampling: SamplingParams | None = None,
                 infos: list[dict[str, Any]] | None = None) -> list[Generation]:
        sampling = sampling or SamplingParams()
        if len(prompts) <= 1:
            return [self._complete(p, sampling, i) for i, p in enumerate(prompts)]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts))) as pool:
            return list(pool.map(lambda ip: self._complete(ip[1], sampling, ip[0]), enumerate(prompts)))

    def request_body(self, messages: Messages, sampling: SamplingParams, index: int = 0) -> dict[str, Any]:
        greedy = sampling.greedy or sampling.temperature <= 0
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": sampling.max_new_tokens,
            "temperature": 0.0 if greedy else sampling.temperature,
            "top_p": 1.0 if greedy else sampling.top_p,
            "n": 1,
        }
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if sampling.seed is not None:
            body["seed"] = int(sampling.seed) + index  # distinct but reproducible per prompt
        if self.logprobs:
            body["logprobs"] = True
        return {**body, **self.extra_body}

    def _complete(self, messages: Messages, sampling: SamplingParams, index: int) -> Generation:
        data = self.post("/chat/completions", self.request_body(messages, sampling, index))
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise RuntimeError(f"{self.base_url} answered without choices[0].message: {str(data)[:300]}") from exc
        reason = choice.get("finish_reason") or "stop"
        if self.restore_stop and reason == "stop" and len(sampling.stop) == 1 and not text.endswith(sampling.stop[0]):
            text += sampling.stop[0]
        content = (choice.get("logprobs") or {}).get("content") or []
        return Generation(text=text, prompt_ids=list(data.get("prompt_token_ids") or []),
                          token_ids=list(choice.get("token_ids") or []),
                          logprobs=[float(t["logprob"]) for t in content],
                          finish_reason="length" if reason == "length" else "stop")

    def post(self, path: str, body: dict[str, Any] | None = None, content: bytes | None = None,
             headers: dict[str, str] | None = None) -> dict[str, Any]:
        """POST to ``base_url + path`` (JSON ``body`` or raw ``content``), retried; the answer's JSON
        (``{"text": ...}`` for a plain-text answer)."""
        import httpx

        last = "no attempt made"
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self.client.post(path, json=body, content=content, headers=headers)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in RETRY_STATUS:
                last = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            if response.status_code >= 400:
                raise RuntimeError(f"{self.base_url}{path} rejected the request with HTTP "
                                   f"{response.status_code}: {response.text[:500]}")
            try:
                return response.json()
            except ValueError:  # control routes (vLLM's LoRA loading) answer in plain text
                return {"text": response.text}
        raise EndpointUnavailable(f"OpenAI-compatible endpoint {self.base_url} is unavailable after "
                                  f"{self.max_retries + 1} attempts ({last}). Is the server running and is "
                                  "base_url right (it usually ends in /v1)?")
