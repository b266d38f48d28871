"""A cap on HTTP request bodies for the project's servers (pure ASGI, no web-framework import).

A body over the cap is answered ``413`` before the application reads it when ``Content-Length`` says
so, and cut off as it streams in otherwise (chunked uploads), so a server never holds more than the cap
of one request in memory. ``limits`` sets other caps for some paths (the weight route takes snapshots
far larger than any JSON request).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


class BodyTooLarge(Exception):
    """Raised into the application when a streamed body passes its cap."""


def error_body(message: str) -> bytes:
    """The JSON of a refusal: OpenAI's error shape, which FastAPI clients read too (``detail``)."""
    return json.dumps({"error": {"message": message, "type": "invalid_request_error", "param": None,
                                 "code": "request_too_large"}, "detail": message}).encode()


class BodyLimit:
    """``BodyLimit(app, max_bytes, limits={"/path": other_max})``: an ASGI middleware."""

    def __init__(self, app: ASGIApp, max_bytes: int, limits: dict[str, int] | None = None):
        if max_bytes < 1:
            raise ValueError(f"the body cap must be >= 1 byte, got {max_bytes}")
        self.app, self.max_bytes, self.limits = app, max_bytes, dict(limits or {})

    def limit_for(self, path: str) -> int:
        return self.limits.get(path.rstrip("/") or "/", self.max_bytes)

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, f"the request body is {declared} bytes; this route takes at most {limit}")
            return
        seen, over, started = 0, False, False

        async def capped_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise BodyTooLarge(f"the request body passed {limit} bytes, the most this route takes")
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if over and not started:  # the application's own answer to the cut-off body is replaced
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, tracked_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await _refuse(send, f"the request body passed {limit} bytes, the most this route takes")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Callable[[Message], Awaitable[None]], message: str) -> None:
    body = error_body(message)
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
