"""OpenEnv's HTTP/WebSocket server with the limits a shared server needs (``agentgym.serve_env`` builds it).

OpenEnv 0.10's ``HTTPEnvServer`` gives the routes; this adds what it leaves open:

* **idle sessions are reaped**: a session nobody uses for ``session_timeout_s`` (one made by HTTP
  ``openenv/session/create`` and forgotten) is closed and its slot freed. A WebSocket's own session
  lives as long as its connection (uvicorn's pings close a connection whose client died), so a trainer
  that is busy with an update between two steps never loses its environments;
* **a malformed WebSocket message is answered, not fatal**: a binary frame, JSON that is not an object,
  nesting deeper than ``MAX_DEPTH``, an integer over Python's 4,300-digit limit or a message over
  ``max_message_bytes`` gets an error reply (``code: INVALID_JSON``) and the session goes on;
* **client errors are 4xx**: ``ClientError`` (an unknown split, a step before reset, a bad step limit)
  answers its status, not 500;
* **bodies are capped** (``agentgym.util.body_limit``): 413 past ``max_body_bytes``.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Awaitable, Callable
from typing import Any

from openenv.core.env_server.http_server import HTTPEnvServer
from openenv.core.env_server.types import ConcurrencyConfig

from agentgym.openenv.served_env import ClientError
from agentgym.util.body_limit import BodyLimit

MAX_DEPTH = 64  # nesting a message may have (this project's messages need 4)
DEFAULT_SESSION_TIMEOUT_S = 600.0
DEFAULT_MAX_BODY_BYTES = 1 << 20
DEFAULT_MAX_MESSAGE_BYTES = 1 << 20

_in_websocket: contextvars.ContextVar[bool] = contextvars.ContextVar("agentgym_in_websocket", default=False)


class SessionServer(HTTPEnvServer):
    """``HTTPEnvServer`` whose idle reaper spares sessions a live WebSocket owns."""

    async def _create_session(self) -> tuple[str, Any]:
        session_id, env = await super()._create_session()
        if _in_websocket.get():  # the /ws route's own session: held by its connection, not by a timeout
            self._session_websocket_attachments.add(session_id)
        return session_id, env


def message_problem(text: str | None, data: bytes | None, max_bytes: int) -> str | None:
    """Why a WebSocket message cannot be a request (None: it can)."""
    if text is None:
        return "binary frames are not accepted: send each message as a JSON text frame"
    if len(text) > max_bytes:
        return f"the message is {len(text)} characters; this server takes at most {max_bytes}"
    try:
        message = json.loads(text)
    except RecursionError:
        return f"the message nests deeper than {MAX_DEPTH} levels"
    except ValueError as exc:  # bad JSON, or an integer longer than Python converts (4,300 digits)
        return f"Invalid JSON: {str(exc)[:200]}"
    if not isinstance(message, dict):
        return f"a message must be a JSON object with a 'type', not {type(message).__name__}"
    if _depth(message) > MAX_DEPTH:
        return f"the message nests deeper than {MAX_DEPTH} levels"
    return None


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


class MessageGuard:
    """ASGI middleware on the ``/ws`` route: malformed messages are answered here and never reach OpenEnv's
    loop (which would end the session on them); requests pass through unchanged."""

    def __init__(self, app: Any, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, paths: tuple[str, ...] = ("/ws",)):
        self.app, self.max_message_bytes, self.paths = app, max_message_bytes, paths

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
                       send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        if scope["type"] != "websocket" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return

        async def guarded_receive() -> dict[str, Any]:
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    return message
                problem = message_problem(message.get("text"), message.get("bytes"), self.max_message_bytes)
                if problem is None:
                    return message
                error = {"type": "error", "data": {"message": problem, "code": "INVALID_JSON"}}
                await send({"type": "websocket.send", "text": json.dumps(error)})

        token = _in_websocket.set(True)
        try:
            await self.app(scope, guarded_receive, send)
        finally:
            _in_websocket.reset(token)


def build_server_app(env_factory: Callable[[], Any], action_cls: type, observation_cls: type, state_cls: type,
                     env_name: str, max_sessions: int, session_timeout_s: float | None = DEFAULT_SESSION_TIMEOUT_S,
                     max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                     max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> Any:
    """The FastAPI app: OpenEnv's routes on a ``SessionServer``, the limits above around them."""
    import os

    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    app = FastAPI(title=f"{env_name} (OpenEnv server by agentgym)")
    server = SessionServer(env_factory, action_cls, observation_cls, env_name=env_name, state_cls=state_cls,
                           concurrency_config=ConcurrencyConfig(max_concurrent_envs=max_sessions,
                                                                session_timeout=session_timeout_s))
    server.register_routes(app, mode=os.environ.get("OPENENV_MODE", "simulation"))
    app.state.env_server = server

    @app.exception_handler(ClientError)
    async def client_error(request: Request, exc: ClientError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    app.add_middleware(MessageGuard, max_message_bytes=max_message_bytes)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    return app
