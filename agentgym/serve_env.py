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


def build_app(env_id: str, split: str = "train", env_kwargs: dict[str, Any] | None = None,
              max_sessions: int = DEFAULT_MAX_SESSIONS) -> Any:
    """The FastAPI app serving ``env_id``; builds the default split once first, so a bad id or kwargs
    fail here with the environment's own error, not in the first client's session."""
    from openenv.core.env_server.http_server import create_fastapi_app

    from agentgym.openenv.served_env import ServedSpec, session_factory
    from agentgym.openenv.wire import TextAction, TextEnvState, TextObservation

    spec = ServedSpec(env_id, split, env_kwargs)
    spec.task_ids(split)
    return create_fastapi_app(session_factory(spec), TextAction, TextObservation, max_concurrent_envs=max_sessions,
                              env_name=route_name(env_id), state_cls=TextEnvState)


def route_name(env_id: str) -> str:
    """The name in the task API's routes (``/{name}/tasks``): the id without its namespace, which has a '/'."""
    return env_id.rsplit("/", 1)[-1].split(":")[-1]


def app_from_environment() -> Any:
    """uvicorn's factory for ``--workers N``: every worker process builds its app from the same settings."""
    settings = json.loads(os.environ[SETTINGS_VARIABLE])
    for module in settings.pop("imports"):
        importlib.import_module(module)
    return build_app(**settings)


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
                        help="concurrent WebSocket sessions (environments) per worker; more are refused")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes sharing the port (CPU-bound engines use one core each)")
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                        help="import this module first, so the environments it registers can be served")
    parser.add_argument("--log-level", default="warning", help="uvicorn's log level")
    args = parser.parse_args(argv)
    if args.max_sessions < 1 or args.workers < 1:
        parser.error("--max-sessions and --workers must be >= 1")
    import uvicorn

    for module in args.imports:
        importlib.import_module(module)
    settings = {"env_id": args.env_id, "split": args.split, "env_kwargs": args.env_kwargs,
                "max_sessions": args.max_sessions}
    print(f"serving {args.env_id} (default split {args.split}) on ws://{args.host}:{args.port}/ws "
          f"with {args.workers} worker(s)", file=sys.stderr, flush=True)
    if args.workers == 1:
        uvicorn.run(build_app(**settings), host=args.host, port=args.port, log_level=args.log_level)
        return
    os.environ[SETTINGS_VARIABLE] = json.dumps({**settings, "imports": args.imports})
    uvicorn.run("agentgym.serve_env:app_from_environment", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level)


if __name__ == "__main__":
    main()
