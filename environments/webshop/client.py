"""How the environment reaches the shop: in-process ASGI calls, or HTTP to a server process.

``AsgiClient`` drives the FastAPI app directly on a private event loop (no sockets); called from inside a
running loop (Jupyter, async programs, OpenEnv's HTTP handlers) it runs that loop on a helper thread, since
a thread can run only one loop at a time.
``HttpClient`` talks HTTP to a URL; ``ServerProcess`` starts ``python -m environments.webshop.serve``
on a free loopback port (the listening socket is created here and handed over, so there is no
port race) and ``acquire_server`` shares one process per shop config among all environments of
this process, stopping it when the last one is closed.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from environments.webshop.data import ShopConfig

REPO_ROOT = Path(__file__).resolve().parents[2]


class ShopError(RuntimeError):
    pass


@dataclass
class Reply:
    """The part of an HTTP response the environment reads (``httpx.Response`` has the same)."""

    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class AsgiClient:
    """Calls the ASGI app in this process: one ``http`` request per call on a private event loop."""

    def __init__(self, app: Any):
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._helper: concurrent.futures.ThreadPoolExecutor | None = None

    def call(self, method: str, path: str, json: Any = None) -> Reply:
        request = self._request(method, path, json)
        if not _loop_running_here():
            return self._loop.run_until_complete(request)
        if self._helper is None:  # started once, only by callers that already run a loop
            self._helper = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="webshop-asgi")
        return self._helper.submit(self._loop.run_until_complete, request).result()

    async def _request(self, method: str, path: str, payload: Any) -> Reply:
        body = b"" if payload is None else json.dumps(payload).encode()
        path, _, query = path.partition("?")
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
                 "root_path": "", "headers": [(b"host", b"webshop"), (b"content-type", b"application/json"),
                                              (b"content-length", str(len(body)).encode())],
                 "client": ("127.0.0.1", 0), "server": ("webshop", 80)}
        sent = False
        status, chunks = 500, []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self._app(scope, receive, send)
        return Reply(status, b"".join(chunks))

    def close(self) -> None:
        if self._helper is not None:
            self._helper.shutdown(wait=True)
            self._helper = None
        if not self._loop.is_closed():
            self._loop.close()


def _loop_running_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class HttpClient:
    def __init__(self, url: str, timeout: float = 60.0):
        self._client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)

    def call(self, method: str, path: str, json: Any = None) -> httpx.Response:
        return self._client.request(method, path, json=json)

    def close(self) -> None:
        self._client.close()


class ServerProcess:
    """A shop server in a child process on a free port of 127.0.0.1."""

    def __init__(self, config: ShopConfig, startup_timeout: float = 180.0):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        command = [sys.executable, "-m", "environments.webshop.serve", "--fd", str(sock.fileno()),
                   "--parent-pid", str(os.getpid()), *config.cli_args()]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
        self._log = tempfile.TemporaryFile()  # a file, not a pipe: a chatty server can never block on it
        try:
            self.process = subprocess.Popen(command, pass_fds=[sock.fileno()], env=env, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=self._log)
        finally:
            sock.close()
        self._wait_until_ready(startup_timeout)

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5.0) as probe:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    self._log.seek(0)
                    err = self._log.read().decode(errors="replace")[-2000:]
                    self.stop()
                    raise ShopError(f"The shop server exited with code {self.process.returncode}:\n{err}")
                try:
                    if probe.get(self.url + "/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        self.stop()
        raise ShopError(f"The shop server did not answer on {self.url} within {timeout:.0f}s.")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


_SERVERS: dict[ShopConfig, tuple[ServerProcess, int]] = {}
_SERVERS_LOCK = threading.Lock()


def acquire_server(config: ShopConfig) -> str:
    """URL of this process's shared server for ``config`` (started on first use)."""
    with _SERVERS_LOCK:
        server, users = _SERVERS.get(config, (None, 0))
        if server is None:
            server = ServerProcess(config)
        _SERVERS[config] = (server, users + 1)
        return server.url


def release_server(config: ShopConfig) -> None:
    """Drop one user of the shared server; the last one stops it."""
    with _SERVERS_LOCK:
        server, users = _SERVERS.get(config, (None, 0))
        if server is None:
            return
        if users <= 1:
            del _SERVERS[config]
            server.stop()
        else:
            _SERVERS[config] = (server, users - 1)


@atexit.register
def _stop_servers() -> None:
    """Servers of environments nobody closed stop with this process."""
    with _SERVERS_LOCK:
        for server, _ in _SERVERS.values():
            server.stop()
        _SERVERS.clear()


def shared_app(config: ShopConfig) -> Any:
    """One ASGI app per config in this process (the catalogue is loaded once)."""
    from environments.webshop.app import create_app
    from environments.webshop.data import shared_shop

    with _APPS_LOCK:
        if config not in _APPS:
            _APPS[config] = create_app(shared_shop(config))
        return _APPS[config]


_APPS: dict[ShopConfig, Any] = {}
_APPS_LOCK = threading.Lock()
