"""A small OpenAI-compatible server for any local policy: ``python -m policies.serve --model DIR``.

Serves ``POST /v1/chat/completions``, ``POST /v1/completions`` (prompts as text or token ids, many
per request, as vLLM takes them), ``GET /v1/models`` and ``GET /health``. Concurrent requests are
gathered into batches (up to ``max_batch`` or ``max_wait_s``) and answered by one batched
``generate`` call, like a minimal continuous-batching server.

It is also the ``server`` generation engine of training (``agentgym.inference``): ``POST
/agentgym/weights`` takes a safetensors snapshot of the trained weights (full or LoRA adapter only,
``policies.weights``) with its policy version in the ``X-Agentgym-Policy-Version`` header and loads
it between two batches, so no response mixes two versions; every response names the version that
produced it (``agentgym_policy_version``); ``GET /agentgym/info`` reports the version.

Follows the OpenAI conventions (stop string removed from the text, ``finish_reason``,
``usage``, ``logprobs``) plus two vLLM extensions: ``include_stop_str_in_output`` and
``return_token_ids`` (adds ``prompt_token_ids`` and ``token_ids`` to the choice).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import astuple
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from agentgym.core.policy import Generation, SamplingParams
from policies.weights import TOKEN_ENV, TOKEN_HEADER, VERSION_HEADER


class Batcher:
    """Collects requests from many threads and runs them through the policy in batches, on one thread.

    Prompts come as chat messages (``policy.generate``) or token ids (``policy.generate_ids``);
    ``call(fn)`` runs ``fn`` on the same thread between batches (weight loads).
    """

    def __init__(self, policy, max_batch: int = 256, max_wait_s: float = 0.01):
        self.policy, self.max_batch, self.max_wait_s = policy, max_batch, max_wait_s
        self.version = 0  # the policy version the weights are at (set by weight loads)
        self.requests: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="policy-batcher", daemon=True)
        self.thread.start()

    def submit(self, messages: list[dict[str, str]], sampling: SamplingParams) -> Future:
        return self._put("messages", messages, sampling)

    def submit_ids(self, prompt_ids: list[int], sampling: SamplingParams) -> Future:
        return self._put("ids", prompt_ids, sampling)

    def call(self, fn: Callable[[], Any]) -> Future:
        return self._put("call", fn, None)

    def _put(self, kind: str, payload: Any, sampling: SamplingParams | None) -> Future:
        future: Future = Future()
        self.requests.put((kind, payload, sampling, future))
        return future

    def close(self) -> None:
        self.requests.put(None)
        self.thread.join(timeout=10)

    def _loop(self) -> None:
        while (first := self.requests.get()) is not None:
            batch, deadline, closing = [first], time.monotonic() + self.max_wait_s, False
            while first[0] != "call" and len(batch) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                try:
                    item = self.requests.get(timeout=left)
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                    break
                batch.append(item)
                if item[0] == "call":
                    break
            self._run(batch)
            if closing:
                return

    def _run(self, batch: list[tuple]) -> None:
        groups: dict[tuple, list[tuple]] = {}
        calls = [item for item in batch if item[0] == "call"]
        for item in batch:  # one generate call per prompt kind and distinct sampling setting
            if item[0] != "call":
                groups.setdefault((item[0], astuple(item[2])), []).append(item)
        for (kind, _), items in groups.items():
            try:
                payloads, sampling = [payload for _, payload, _, _ in items], items[0][2]
                if kind == "ids":
                    generations = self.policy.generate_ids(payloads, sampling)
                else:
                    generations = self.policy.generate(payloads, sampling)
            except Exception as exc:  # noqa: BLE001 - the error belongs to the callers
                for *_, future in items:
                    future.set_exception(exc)
                continue
            for (*_, future), gen in zip(items, generations):
                future.set_result((gen, self.version))
        for _, fn, _, future in calls:  # after the batch it arrived with: that batch used the old weights
            try:
                future.set_result(fn())
            except Exception as exc:  # noqa: BLE001
                future.set_exception(exc)


def sampling_from_request(body: dict[str, Any], default_max_tokens: int = 256) -> SamplingParams:
    stop = body.get("stop") or ()
    temperature = float(body.get("temperature", 1.0) if body.get("temperature") is not None else 1.0)
    return SamplingParams(
        temperature=temperature, top_p=float(body.get("top_p") or 1.0),
        max_new_tokens=int(body.get("max_completion_tokens") or body.get("max_tokens") or default_max_tokens),
        stop=(stop,) if isinstance(stop, str) else tuple(stop), seed=body.get("seed"), greedy=temperature <= 0)


def _visible_text(gen: Generation, body: dict[str, Any]) -> str:
    """The response text as OpenAI returns it: the stop string removed unless ``include_stop_str_in_output``."""
    stop_hit = next((s for s in sampling_from_request(body).stop if s and gen.text.endswith(s)), None)
    return gen.text[:-len(stop_hit)] if stop_hit and not body.get("include_stop_str_in_output") else gen.text


def _usage(gens: list[Generation]) -> dict[str, int]:
    prompt, completion = sum(len(g.prompt_ids) for g in gens), sum(len(g.token_ids) for g in gens)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion_response(model: str, gen: Generation, body: dict[str, Any], tokenizer=None,
                        version: int | None = None) -> dict[str, Any]:
    """A chat completion (``/v1/chat/completions``) for one generation."""
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": _visible_text(gen, body)},
                              "finish_reason": gen.finish_reason, "logprobs": None}
    if body.get("logprobs") and gen.logprobs:
        tokens = tokenizer.convert_ids_to_tokens(gen.token_ids) if tokenizer is not None else [""] * len(gen.logprobs)
        choice["logprobs"] = {"content": [{"token": t, "logprob": lp, "top_logprobs": []}
                                          for t, lp in zip(tokens, gen.logprobs)]}
    if body.get("return_token_ids"):
        choice["token_ids"] = gen.token_ids
    out = {"id": f"chatcmpl-{uuid.uuid4().hex[:16]}", "object": "chat.completion", "created": int(time.time()),
           "model": model, "choices": [choice], "usage": _usage([gen]), "agentgym_policy_version": version}
    if body.get("return_token_ids"):
        out["prompt_token_ids"] = gen.prompt_ids
    return out


def text_completion_response(model: str, results: list[tuple[Generation, int]], body: dict[str, Any],
                             tokenizer=None) -> dict[str, Any]:
    """A text completion (``/v1/completions``) with one choice per prompt, in the prompts' order."""
    choices = []
    for index, (gen, version) in enumerate(results):
        choice: dict[str, Any] = {"index": index, "text": _visible_text(gen, body), "finish_reason": gen.finish_reason,
                                  "logprobs": None, "agentgym_policy_version": version}
        if body.get("logprobs") is not None and gen.logprobs:
            tokens = tokenizer.convert_ids_to_tokens(gen.token_ids) if tokenizer is not None else [""] * len(gen.token_ids)
            choice["logprobs"] = {"tokens": tokens, "token_logprobs": gen.logprobs, "top_logprobs": None,
                                  "text_offset": None}
        if body.get("return_token_ids"):
            choice["prompt_token_ids"], choice["token_ids"] = gen.prompt_ids, gen.token_ids
        choices.append(choice)
    versions = {v for _, v in results}
    return {"id": f"cmpl-{uuid.uuid4().hex[:16]}", "object": "text_completion", "created": int(time.time()),
            "model": model, "choices": choices, "usage": _usage([g for g, _ in results]),
            "agentgym_policy_version": versions.pop() if len(versions) == 1 else None}


def _prompt_ids(prompt: Any, tokenizer) -> list[list[int]]:
    """``prompt`` of a completions request (a text, token ids, or a list of either) as token-id lists."""
    def one(item: Any) -> list[int]:
        if isinstance(item, str):
            if tokenizer is None:
                raise HTTPException(status_code=400, detail="this policy has no tokenizer: send token ids")
            from policies.chat_template import encode_text

            return encode_text(tokenizer, item)
        if isinstance(item, list) and item and all(isinstance(t, int) and not isinstance(t, bool) for t in item):
            return list(item)
        raise HTTPException(status_code=400, detail="'prompt' must be a text, a non-empty list of token ids, "
                                                    "or a list of those")

    if isinstance(prompt, str) or (isinstance(prompt, list) and prompt and isinstance(prompt[0], int)):
        return [one(prompt)]
    if not isinstance(prompt, list) or not prompt:
        raise HTTPException(status_code=400, detail="'prompt' must be a text, token ids, or a non-empty list")
    return [one(item) for item in prompt]


def create_app(policy, model_name: str = "agentgym-policy", max_batch: int = 256, max_wait_s: float = 0.01,
               weights_token: str | None = None):
    """A FastAPI app serving ``policy``; the batcher stops when the app shuts down.

    ``weights_token`` (default: the ``AGENTGYM_WEIGHTS_TOKEN`` environment variable): weight pushes
    without it in the ``X-Agentgym-Weights-Token`` header are refused, so nobody else on the network
    can replace the policy a run trains.
    """
    weights_token = weights_token if weights_token is not None else os.environ.get(TOKEN_ENV) or None
    batcher = Batcher(policy, max_batch=max_batch, max_wait_s=max_wait_s)
    app = FastAPI(title="agentgym policy server", on_shutdown=[batcher.close])
    app.state.batcher = batcher
    tokenizer = getattr(policy, "tokenizer", None)

    def check_request(body: dict[str, Any]) -> None:
        if int(body.get("n") or 1) != 1:
            raise HTTPException(status_code=400, detail="only n=1 is supported")
        if body.get("model") not in (None, model_name):
            raise HTTPException(status_code=404, detail=f"model {body.get('model')!r} not served (have {model_name!r})")

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
        check_request(body)
        gen, version = await asyncio.wrap_future(batcher.submit(messages, sampling_from_request(body)))
        return completion_response(model_name, gen, body, tokenizer, version)

    @app.post("/v1/completions")
    async def completions(request: Request) -> dict[str, Any]:
        body = await request.json()
        check_request(body)
        if not hasattr(policy, "generate_ids"):
            raise HTTPException(status_code=400, detail=f"{type(policy).__name__} takes no token-id prompts")
        sampling = sampling_from_request(body)
        futures = [asyncio.wrap_future(batcher.submit_ids(ids, sampling))
                   for ids in _prompt_ids(body.get("prompt"), tokenizer)]
        return text_completion_response(model_name, list(await asyncio.gather(*futures)), body, tokenizer)

    @app.get("/agentgym/info")
    def info() -> dict[str, Any]:
        return {"model": model_name, "policy_version": batcher.version, "lora": bool(getattr(policy, "is_lora", False)),
                "loads_weights": hasattr(policy, "model"), "weights_need_token": weights_token is not None}

    @app.post("/agentgym/weights")
    async def load_weights(request: Request) -> dict[str, Any]:
        """Load a safetensors snapshot of the trained weights (policies.weights) between two batches."""
        import hmac

        from policies.weights import from_bytes, load_snapshot

        if weights_token is not None and not hmac.compare_digest(request.headers.get(TOKEN_HEADER, ""), weights_token):
            raise HTTPException(status_code=403, detail=f"weight pushes need the server's token in {TOKEN_HEADER}")
        try:
            version = int(request.headers[VERSION_HEADER])
        except (KeyError, ValueError):
            raise HTTPException(status_code=400,
                                detail=f"send the policy version in the {VERSION_HEADER} header") from None
        if not hasattr(policy, "model"):
            raise HTTPException(status_code=400, detail=f"{type(policy).__name__} has no weights to load")
        try:
            weights = from_bytes(await request.body())
        except Exception as exc:  # noqa: BLE001 - a bad payload is the client's error
            raise HTTPException(status_code=400, detail=f"unreadable weights: {exc}") from exc

        def load() -> None:
            load_snapshot(policy.model, weights)
            batcher.version = version

        try:
            await asyncio.wrap_future(batcher.call(load))
        except ValueError as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from exc
        return {"policy_version": version, "tensors": len(weights.tensors), "bytes": weights.nbytes}

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


def _exit_with_parent(parent: int, every_s: float = 1.0) -> None:
    """A server started for one run must not outlive it, even when the run is killed (SIGKILL runs no cleanup)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from policies.spec import from_spec

    parser = argparse.ArgumentParser(description="Serve a policy over an OpenAI-compatible HTTP API.")
    parser.add_argument("--model", required=True, help="a policy spec: model folder, checkpoint, 'tiny', ...")
    parser.add_argument("--name", default=None, help="model name clients send (default: --model)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on; 0 = any free port")
    parser.add_argument("--port-file", default=None, help="write the port listened on to this file once bound")
    parser.add_argument("--max-batch", type=int, default=256, help="most prompts decoded in one batch")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    parser.add_argument("--version", type=int, default=0, help="policy version of the weights loaded at start")
    parser.add_argument("--seed", type=int, default=None, help="seed torch's sampler (reproducible rollouts)")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="exit when the process that started this one dies (a training run's own server)")
    args = parser.parse_args(argv)
    if args.exit_with_parent:
        _exit_with_parent(os.getppid())
    if args.threads or args.seed is not None:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        if args.seed is not None:
            torch.manual_seed(args.seed)
    app = create_app(from_spec(args.model), args.name or args.model, max_batch=args.max_batch)
    app.state.batcher.version = args.version
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    if args.port_file:
        from pathlib import Path

        Path(args.port_file).write_text(str(sock.getsockname()[1]))
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


if __name__ == "__main__":
    main()
