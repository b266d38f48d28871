"""A small OpenAI-compatible server for any local policy: ``python -m policies.serve --model DIR``.

Serves ``POST /v1/chat/completions``, ``GET /v1/models`` and ``GET /health``. Concurrent requests
are gathered into batches (up to ``max_batch`` or ``max_wait_s``) and answered by one batched
``generate`` call, like a minimal continuous-batching server. It exists so the OpenAI backend can
be tested against a real HTTP server, and to serve the tiny model to external evaluation tools.

Follows the OpenAI conventions (stop string removed from the text, ``finish_reason``,
``usage``, ``logprobs.content``) plus two vLLM extensions: ``include_stop_str_in_output`` and
``return_token_ids`` (adds ``prompt_token_ids`` and ``token_ids`` to the choice).
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import astuple
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from agentgym.policy import Generation, SamplingParams


class Batcher:
    """Collects requests from many threads and runs them through ``policy.generate`` in batches."""

    def __init__(self, policy, max_batch: int = 32, max_wait_s: float = 0.01):
        self.policy, self.max_batch, self.max_wait_s = policy, max_batch, max_wait_s
        self.requests: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="policy-batcher", daemon=True)
        self.thread.start()

    def submit(self, messages: list[dict[str, str]], sampling: SamplingParams) -> Future:
        future: Future = Future()
        self.requests.put((messages, sampling, future))
        return future

    def close(self) -> None:
        self.requests.put(None)
        self.thread.join(timeout=10)

    def _loop(self) -> None:
        while (first := self.requests.get()) is not None:
            batch, deadline, closing = [first], time.monotonic() + self.max_wait_s, False
            while len(batch) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                try:
                    item = self.requests.get(timeout=left)
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                    break
                batch.append(item)
            self._run(batch)
            if closing:
                return

    def _run(self, batch: list[tuple]) -> None:
        groups: dict[tuple, list[tuple]] = {}
        for item in batch:  # one generate call per distinct sampling setting
            groups.setdefault(astuple(item[1]), []).append(item)
        for items in groups.values():
            try:
                generations = self.policy.generate([m for m, _, _ in items], items[0][1])
            except Exception as exc:  # noqa: BLE001 - the error belongs to the callers
                for _, _, future in items:
                    future.set_exception(exc)
                continue
            for (_, _, future), gen in zip(items, generations):
                future.set_result(gen)


def sampling_from_request(body: dict[str, Any], default_max_tokens: int = 256) -> SamplingParams:
    stop = body.get("stop") or ()
    temperature = float(body.get("temperature", 1.0) if body.get("temperature") is not None else 1.0)
    return SamplingParams(
        temperature=temperature, top_p=float(body.get("top_p") or 1.0),
        max_new_tokens=int(body.get("max_completion_tokens") or body.get("max_tokens") or default_max_tokens),
        stop=(stop,) if isinstance(stop, str) else tuple(stop), seed=body.get("seed"), greedy=temperature <= 0)


def completion_response(model: str, gen: Generation, body: dict[str, Any], tokenizer=None) -> dict[str, Any]:
    text = gen.text
    stops = sampling_from_request(body).stop
    stop_hit = next((s for s in stops if s and text.endswith(s)), None)
    if stop_hit and not body.get("include_stop_str_in_output"):
        text = text[:-len(stop_hit)]
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text},
                              "finish_reason": gen.finish_reason, "logprobs": None}
    if body.get("logprobs") and gen.logprobs:
        tokens = tokenizer.convert_ids_to_tokens(gen.token_ids) if tokenizer is not None else [""] * len(gen.logprobs)
        choice["logprobs"] = {"content": [{"token": t, "logprob": lp, "top_logprobs": []}
                                          for t, lp in zip(tokens, gen.logprobs)]}
    if body.get("return_token_ids"):
        choice["token_ids"] = gen.token_ids
    out = {"id": f"chatcmpl-{uuid.uuid4().hex[:16]}", "object": "chat.completion", "created": int(time.time()),
           "model": model, "choices": [choice],
           "usage": {"prompt_tokens": len(gen.prompt_ids), "completion_tokens": len(gen.token_ids),
                     "total_tokens": len(gen.prompt_ids) + len(gen.token_ids)}}
    if body.get("return_token_ids"):
        out["prompt_token_ids"] = gen.prompt_ids
    return out


def create_app(policy, model_name: str = "agentgym-policy", max_batch: int = 32, max_wait_s: float = 0.01):
    """A FastAPI app serving ``policy``; the batcher stops when the app shuts down."""
    batcher = Batcher(policy, max_batch=max_batch, max_wait_s=max_wait_s)
    app = FastAPI(title="agentgym policy server", on_shutdown=[batcher.close])
    app.state.batcher = batcher

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "agentgym"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        body = await request.json()
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise HTTPException(status_code=400, detail="'messages' must be a non-empty list")
        if int(body.get("n") or 1) != 1:
            raise HTTPException(status_code=400, detail="only n=1 is supported")
        if body.get("model") not in (None, model_name):
            raise HTTPException(status_code=404, detail=f"model {body.get('model')!r} not served (have {model_name!r})")
        gen = await asyncio.wrap_future(batcher.submit(messages, sampling_from_request(body)))
        return completion_response(model_name, gen, body, getattr(policy, "tokenizer", None))

    return app


class ServerThread:
    """Run ``create_app(policy)`` with uvicorn in a background thread (tests, benchmarks).

    ``with ServerThread(policy) as server: server.base_url`` -> "http://127.0.0.1:PORT/v1".
    """

    def __init__(self, policy, model_name: str = "agentgym-policy", host: str = "127.0.0.1", port: int = 0, **kw):
        import uvicorn

        config = uvicorn.Config(create_app(policy, model_name, **kw), host=host, port=port, log_level="warning",
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="policy-server", daemon=True)
        self.host = host

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("policy server failed to start")
            time.sleep(0.02)
        return self

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from policies.spec import from_spec

    parser = argparse.ArgumentParser(description="Serve a policy over an OpenAI-compatible HTTP API.")
    parser.add_argument("--model", required=True, help="a policy spec: model folder, checkpoint, 'tiny', ...")
    parser.add_argument("--name", default=None, help="model name clients send (default: --model)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-batch", type=int, default=32)
    args = parser.parse_args(argv)
    app = create_app(from_spec(args.model), args.name or args.model, max_batch=args.max_batch)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
