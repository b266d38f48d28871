"""A small OpenAI-compatible server for any local policy: ``python -m policies.serve --model DIR``.

Serves ``POST /v1/chat/completions``, ``POST /v1/completions`` (prompts as text or token ids, many
per request, as vLLM takes them), ``GET /v1/models`` and ``GET /health``. Concurrent requests are
gathered into batches (up to ``max_batch`` or ``max_wait_s``) and answered by one batched
``generate`` call, like a minimal continuous-batching server.

It is also the ``server`` generation engine of training (``agentgym.inference``): ``POST
/agentgym/weights`` takes a safetensors snapshot of the trained weights (full or LoRA adapter only,
``policies.weights``) with its policy version in the ``X-Agentgym-Policy-Version`` header and loads
it between two batches, so no response mixes two versions; every response names the version that
produced it (``agentgym_policy_version``); ``GET /agentgym/info`` reports the version. Weight pushes
need the server's token (``X-Agentgym-Weights-Token``; the command makes one unless given one) and are
checked whole (names, shapes, dtypes) before any tensor is copied.

A client's mistake (bad JSON, a wrong type or range, an unknown role, a token id outside the vocabulary)
is answered ``4xx`` in OpenAI's error shape before it joins a batch (``policies.serve_requests``); a
request whose generation still fails is retried alone, so it never fails its batch-mates. Bodies are
capped (``--max-request-mb``, ``--max-weights-mb``). ``stream: true`` is answered as server-sent events
in OpenAI's chunk format; the text arrives in one chunk, once the batch is decoded.

Follows the OpenAI conventions (stop string removed from the text, ``finish_reason``,
``usage``, ``logprobs``) plus two vLLM extensions: ``include_stop_str_in_output`` and
``return_token_ids`` (adds ``prompt_token_ids`` and ``token_ids`` to the choice).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import threading
import time
import uuid
from concurrent.futures import Future
from typing import Any

from fastapi import FastAPI, Request

from agentgym.core.policy import Generation
from policies.serve_batcher import Batcher
from policies.serve_responses import (
    chat_chunks,
    completion_response,
    sse_response,
    text_chunks,
    text_completion_response,
)
from policies.weights import TOKEN_ENV, TOKEN_HEADER, VERSION_HEADER


def _vocab_size(policy) -> int | None:
    model = getattr(policy, "model", None)
    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if embeddings is not None and hasattr(embeddings, "num_embeddings"):
        return int(embeddings.num_embeddings)
    tokenizer = getattr(policy, "tokenizer", None)
    return len(tokenizer) if tokenizer is not None else None


def weights_cap(policy) -> int:
    """The largest weight push a server takes by default: the model's tensors all in float32, plus 16 MiB for
    the header (a snapshot of this model cannot be larger; a 1 GiB floor for policies without a model)."""
    model = getattr(policy, "model", None)
    if model is None or not hasattr(model, "state_dict"):
        return 1 << 30
    return sum(t.numel() * 4 for t in model.state_dict().values()) + (16 << 20)


def create_app(policy, model_name: str = "agentgym-policy", max_batch: int = 256, max_wait_s: float = 0.01,
               weights_token: str | None = None, max_request_bytes: int = 16 << 20,
               max_weights_bytes: int | None = None, spool_dir: str | None = None):
    """A FastAPI app serving ``policy``; the batcher stops when the app shuts down.

    ``weights_token`` (default: the ``AGENTGYM_WEIGHTS_TOKEN`` environment variable): weight pushes
    without it in the ``X-Agentgym-Weights-Token`` header are refused, so nobody else on the network
    can replace the policy a run trains (``python -m policies.serve`` always has one unless told
    ``--no-weights-token``). ``max_request_bytes`` caps JSON bodies, ``max_weights_bytes`` weight pushes
    (default ``weights_cap``); a push streams to a file in ``spool_dir`` (default: the temp folder), so a
    snapshot is never held twice in memory.
    """
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from agentgym.util.body_limit import BodyLimit
    from policies.serve_requests import (
        ClientError,
        check_messages,
        error_json,
        parse_body,
        prompt_ids,
        sampling_from_request,
    )

    weights_token = weights_token if weights_token is not None else os.environ.get(TOKEN_ENV) or None
    instance = uuid.uuid4().hex  # a restarted server is another instance: a client can tell it lost its weights
    max_weights_bytes = max_weights_bytes or weights_cap(policy)
    batcher = Batcher(policy, max_batch=max_batch, max_wait_s=max_wait_s)
    app = FastAPI(title="agentgym policy server", on_shutdown=[batcher.close])
    app.state.batcher = batcher
    app.add_middleware(BodyLimit, max_bytes=max_request_bytes, limits={"/agentgym/weights": max_weights_bytes})
    tokenizer = getattr(policy, "tokenizer", None)
    vocab_size = _vocab_size(policy)
    context_length = getattr(policy, "context_length", None)
    context_length = context_length if isinstance(context_length, int) else None

    @app.exception_handler(ClientError)
    async def client_error(request: Request, exc: ClientError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
        return JSONResponse(error_json(str(exc.detail), kind), status_code=exc.status_code)

    async def read_json(request: Request) -> dict[str, Any]:
        body = parse_body(await request.body())
        model = body.get("model")
        if model not in (None, model_name):
            raise ClientError(f"model {model!r} is not served here (this server has {model_name!r})", "model",
                              status=404, code="model_not_found")
        return body

    async def answer(future: Future) -> tuple[Generation, int]:
        """A request's generation; a failure of this request alone (its batch-mates were answered) is the
        request's fault when it is a value or type error, else the server's."""
        try:
            return await asyncio.wrap_future(future)
        except (ValueError, TypeError, IndexError, KeyError) as exc:
            raise ClientError(f"the request could not be decoded: {type(exc).__name__}: {exc}") from exc

    def stream_options(body: dict[str, Any]) -> bool:
        options = body.get("stream_options")
        if options is not None and not isinstance(options, dict):
            raise ClientError("'stream_options' must be an object", "stream_options")
        return bool((options or {}).get("include_usage"))

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "agentgym"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await read_json(request)
        messages = check_messages(body.get("messages"))
        sampling = sampling_from_request(body, max_tokens_cap=context_length)
        include_usage = stream_options(body)
        gen, version = await answer(batcher.submit(messages, sampling))
        response = completion_response(model_name, gen, body, tokenizer, version)
        return sse_response(chat_chunks(response, include_usage)) if body.get("stream") else response

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        body = await read_json(request)
        if not hasattr(policy, "generate_ids"):
            raise ClientError(f"{type(policy).__name__} takes no token-id prompts: use /v1/chat/completions")
        sampling = sampling_from_request(body, max_tokens_cap=context_length)
        include_usage = stream_options(body)
        prompts = prompt_ids(body.get("prompt"), tokenizer, vocab_size, context_length)
        results = await asyncio.gather(*[answer(batcher.submit_ids(ids, sampling)) for ids in prompts])
        response = text_completion_response(model_name, list(results), body, tokenizer)
        return sse_response(text_chunks(response, include_usage)) if body.get("stream") else response

    @app.get("/agentgym/info")
    def info() -> dict[str, Any]:
        return {"model": model_name, "policy_version": batcher.version, "lora": bool(getattr(policy, "is_lora", False)),
                "loads_weights": hasattr(policy, "model"), "weights_need_token": weights_token is not None,
                "max_weights_bytes": max_weights_bytes, "instance": instance}

    @app.post("/agentgym/weights")
    async def load_weights(request: Request) -> dict[str, Any]:
        """Load a safetensors snapshot of the trained weights (policies.weights) between two batches."""
        import hmac
        import tempfile

        from policies.weights import from_file, load_snapshot

        if weights_token is not None and not hmac.compare_digest(request.headers.get(TOKEN_HEADER, "").encode(),
                                                                 weights_token.encode()):
            raise ClientError(f"weight pushes need the server's token in the {TOKEN_HEADER} header", TOKEN_HEADER,
                              status=403, code="bad_weights_token", kind="permission_error")
        try:
            version = int(request.headers[VERSION_HEADER])
        except (KeyError, ValueError):
            raise ClientError(f"send the policy version in the {VERSION_HEADER} header", VERSION_HEADER) from None
        if not hasattr(policy, "model"):
            raise ClientError(f"{type(policy).__name__} has no weights to load")
        with tempfile.NamedTemporaryFile(prefix="agentgym-weights-", suffix=".safetensors", dir=spool_dir) as spool:
            async for chunk in request.stream():  # the body cap (BodyLimit) stops an oversized push here
                spool.write(chunk)
            spool.flush()
            try:
                weights = from_file(spool.name)
            except Exception as exc:  # noqa: BLE001 - a bad payload is the client's error
                raise ClientError(f"unreadable weights: {exc}") from exc

        def load() -> None:
            load_snapshot(policy.model, weights)  # checks the whole snapshot before it copies any tensor
            batcher.version = version

        try:
            await asyncio.wrap_future(batcher.call(load))
        except ValueError as exc:
            raise ClientError(str(exc), status=409, code="weights_mismatch") from exc
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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def weights_token_from(args: argparse.Namespace) -> str | None:
    """The token weight pushes need: from ``--weights-token-file``, else ``AGENTGYM_WEIGHTS_TOKEN``, else a new
    one printed once on stderr; None only when ``--no-weights-token`` asks for an open weight route."""
    import secrets
    from pathlib import Path

    if args.no_weights_token:
        print("WARNING: --no-weights-token: any process that can reach this server can replace its weights",
              file=sys.stderr, flush=True)
        return None
    if args.weights_token_file:
        try:
            token = Path(args.weights_token_file).read_text().strip()
        except OSError as exc:
            raise SystemExit(f"policies.serve: cannot read --weights-token-file: {exc}") from None
        if not token:
            raise SystemExit(f"policies.serve: --weights-token-file {args.weights_token_file} is empty")
        return token
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV]
    token = secrets.token_hex(16)
    print(f"weights token (send it in the {TOKEN_HEADER} header to push weights; clients read it from "
          f"{TOKEN_ENV}): {token}", file=sys.stderr, flush=True)
    return token


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, or a one-line error (a port in use, an address this machine does not have)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise SystemExit(f"policies.serve: cannot resolve --host {host!r}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise SystemExit(f"policies.serve: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from policies.spec import from_spec

    parser = argparse.ArgumentParser(prog="python -m policies.serve",
                                     description="Serve a policy over an OpenAI-compatible HTTP API.")
    parser.add_argument("--model", required=True, help="a policy spec: model folder, checkpoint, 'tiny', ...")
    parser.add_argument("--name", default=None, help="model name clients send (default: --model)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on; 0 = any free port")
    parser.add_argument("--port-file", default=None, help="write the port listened on to this file once bound")
    parser.add_argument("--max-batch", type=_positive_int, default=256, help="most prompts decoded in one batch")
    parser.add_argument("--threads", type=_positive_int, default=None, help="torch CPU threads (default: torch's own)")
    parser.add_argument("--dtype", default="float32", choices=("auto", "float32", "bfloat16", "float16"),
                        help="dtype of the served weights (a training run's server: the trainer's --model-dtype)")
    parser.add_argument("--version", type=int, default=0, help="policy version of the weights loaded at start")
    parser.add_argument("--seed", type=int, default=None, help="seed torch's sampler (reproducible rollouts)")
    parser.add_argument("--weights-token-file", default=None,
                        help=f"read the weights token from this file (default: ${TOKEN_ENV}, else a new one, "
                             "printed at start)")
    parser.add_argument("--no-weights-token", action="store_true",
                        help="let any client push weights (POST /agentgym/weights) without a token")
    parser.add_argument("--max-request-mb", type=float, default=16.0, help="largest JSON request body")
    parser.add_argument("--max-weights-mb", type=float, default=None,
                        help="largest weight push (default: the served model's tensors in float32, plus 16 MiB)")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="exit when the process that started this one dies (a training run's own server)")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0..65535, got {args.port}")
    for flag in ("max_request_mb", "max_weights_mb"):
        value = getattr(args, flag)
        if value is not None and not (value > 0 and value != float("inf")):
            parser.error(f"--{flag.replace('_', '-')} must be a positive number of MB, got {value}")
    if args.no_weights_token and args.weights_token_file:
        parser.error("--no-weights-token and --weights-token-file contradict each other")
    if args.exit_with_parent:
        _exit_with_parent(os.getppid())
    token = weights_token_from(args)
    sock = _bind(args.host, args.port)  # before the model loads: a port in use fails at once
    if args.threads or args.seed is not None:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        if args.seed is not None:
            torch.manual_seed(args.seed)
    try:
        policy = from_spec(args.model, dtype=args.dtype)
    except (OSError, ValueError, KeyError, ImportError) as exc:
        sock.close()
        raise SystemExit(f"policies.serve: cannot load --model {args.model!r}: {exc}") from None
    app = create_app(policy, args.name or args.model, max_batch=args.max_batch, weights_token=token,
                     max_request_bytes=int(args.max_request_mb * (1 << 20)),
                     max_weights_bytes=int(args.max_weights_mb * (1 << 20)) if args.max_weights_mb else None)
    app.state.batcher.version = args.version
    if args.port_file:
        from pathlib import Path

        Path(args.port_file).write_text(str(sock.getsockname()[1]))
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


if __name__ == "__main__":
    main()
