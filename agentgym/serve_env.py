"""``python -m agentgym.serve_env ID``: a registered environment served with OpenEnv's own server.

One environment per WebSocket session (``ws://HOST:PORT/ws``), OpenEnv's HTTP routes beside it
(``/health``, ``/schema``, ``/metadata``, the task API). Any OpenEnv client (TRL, SkyRL, torchforge,
``openenv.GenericEnvClient``) plays it; this project trains on it with ``pool=remote``. The wire
format and the mapping of ``terminated``/``truncated``/``info`` are in docs/openenv.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from typing import Any

from agentgym.core.env import SPLITS
from agentgym.util.cli_options import parse_mapping

SETTINGS_VARIABLE = "AGENTGYM_SERVE_ENV"  # how ``--workers N`` hands the settings to each uvicorn worker
DEFAULT_MAX_SESSIONS = 256
DEFAULT_SESSION_TIMEOUT_S = 600.0  # agentgym.openenv.session_server's defaults, without importing openenv here
DEFAULT_MAX_BODY_BYTES = 1 << 20
DEFAULT_MAX_MESSAGE_BYTES = 1 << 20


def build_app(env_id: str, split: str = "train", env_kwargs: dict[str, Any] | None = None,
              max_sessions: int = DEFAULT_MAX_SESSIONS, session_timeout_s: float | None = DEFAULT_SESSION_TIMEOUT_S,
              max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> Any:
    """The FastAPI app serving ``env_id``; builds the default split once first, so a bad id or kwargs
    fail here with the environment's own error, not in the first client's session. The limits
    (``session_timeout_s``, the body and message caps) are explained in ``agentgym.openenv.session_server``."""
    from agentgym.openenv.served_env import ServedSpec, session_factory
    from agentgym.openenv.session_server import build_server_app
    from agentgym.openenv.wire import TextAction, TextEnvState, TextObservation

    spec = ServedSpec(env_id, split, env_kwargs)
    spec.task_ids(split)
    return build_server_app(session_factory(spec), TextAction, TextObservation, TextEnvState, route_name(env_id),
                            max_sessions=max_sessions, session_timeout_s=session_timeout_s,
                            max_body_bytes=max_body_bytes, max_message_bytes=max_message_bytes)


def route_name(env_id: str) -> str:
    """The name in the task API's routes (``/{name}/tasks``): the id without its namespace, which has a '/'."""
    return env_id.rsplit("/", 1)[-1].split(":")[-1]


def app_from_environment() -> Any:
    """uvicorn's factory for ``--workers N``: every worker process builds its app from the same settings."""
    settings = json.loads(os.environ[SETTINGS_VARIABLE])
    for module in settings.pop("imports"):
        importlib.import_module(module)
    return build_app(**settings)


def _fail(message: str) -> None:
    raise SystemExit(f"python -m agentgym.serve_env: {message}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m agentgym.serve_env", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("env_id", help="a registered environment id (python -m agentgym.envs lists them)")
    parser.add_argument("--split", default="train", choices=SPLITS,
                        help="the split a reset plays unless it asks for another (reset(split=...))")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--env-kwargs", type=parse_mapping, default={},
                        help="constructor kwargs of every session's environment, e.g. '{max_steps: 30}'")
    parser.add_argument("--max-sessions", type=int, default=DEFAULT_MAX_SESSIONS,
                        help="concurrent sessions (environments) per worker; more are refused")
    parser.add_argument("--session-timeout-s", type=float, default=DEFAULT_SESSION_TIMEOUT_S,
                        help="close a session nobody used for this long (0: never); a WebSocket's own session "
                             "lives as long as its connection")
    parser.add_argument("--max-body-kb", type=float, default=DEFAULT_MAX_BODY_BYTES / 1024,
                        help="largest HTTP request body (413 past it)")
    parser.add_argument("--max-message-kb", type=float, default=DEFAULT_MAX_MESSAGE_BYTES / 1024,
                        help="largest WebSocket message (answered with an error past it)")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes sharing the port (CPU-bound engines use one core each)")
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                        help="import this module first, so the environments it registers can be served")
    parser.add_argument("--log-level", default="warning",
                        choices=["critical", "error", "warning", "info", "debug", "trace"], help="uvicorn's log level")
    args = parser.parse_args(argv)
    if args.max_sessions < 1 or args.workers < 1:
        parser.error("--max-sessions and --workers must be >= 1")
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0..65535, got {args.port}")
    for flag in ("session_timeout_s", "max_body_kb", "max_message_kb"):
        value = getattr(args, flag)
        if not (value >= 0 and value != float("inf")) or (value == 0 and flag != "session_timeout_s"):
            parser.error(f"--{flag.replace('_', '-')} must be a positive number, got {value}")
    import socket

    import uvicorn

    for module in args.imports:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            _fail(f"--import {module}: {exc}")
    settings = {"env_id": args.env_id, "split": args.split, "env_kwargs": args.env_kwargs,
                "max_sessions": args.max_sessions, "session_timeout_s": args.session_timeout_s or None,
                "max_body_bytes": int(args.max_body_kb * 1024), "max_message_bytes": int(args.max_message_kb * 1024)}
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:  # bound first, so a port in use is one line at once, not uvicorn's traceback after a slow build
        sock.bind((args.host, args.port))
    except OSError as exc:
        sock.close()
        _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    try:  # listens only after this: an unknown id or bad kwargs fail with the environment's own message
        app = build_app(**settings)
    except Exception as exc:  # noqa: BLE001
        sock.close()
        _fail(f"cannot serve {args.env_id}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    ws_max_size = max(16 << 20, 2 * settings["max_message_bytes"])  # the guard answers long messages first
    print(f"serving {args.env_id} (default split {args.split}) on ws://{args.host}:{sock.getsockname()[1]}/ws "
          f"with {args.workers} worker(s)", file=sys.stderr, flush=True)
    if args.workers == 1:
        uvicorn.Server(uvicorn.Config(app, log_level=args.log_level, ws_max_size=ws_max_size)).run(sockets=[sock])
        return
    sock.close()
    os.environ[SETTINGS_VARIABLE] = json.dumps({**settings, "imports": args.imports})
    uvicorn.run("agentgym.serve_env:app_from_environment", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level, ws_max_size=ws_max_size)


if __name__ == "__main__":
    main()
