"""OpenEnv servers for the tests, each a real process on a free port, stopped with nothing left behind."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running(command: list[str], port: int, startup_s: float = 300.0) -> Iterator[subprocess.Popen]:
    """``command`` started in its own process group; yields once ``/health`` answers; killed at the end."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                            env=env, text=True)
    try:
        wait_healthy(port, proc, startup_s)
        yield proc
    finally:
        stop(proc)


def wait_healthy(port: int, proc: subprocess.Popen, startup_s: float) -> None:
    deadline = time.monotonic() + startup_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{proc.stderr.read()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the server on port {port} did not come up within {startup_s} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    if proc.stderr:
        proc.stderr.close()


def serve_env(env_id: str, port: int, *flags: str) -> contextlib.AbstractContextManager[subprocess.Popen]:
    """``python -m agentgym.serve_env ENV_ID`` on ``port``."""
    return running([sys.executable, "-m", "agentgym.serve_env", env_id, "--port", str(port), *flags], port)


def serve_countdown(port: int) -> contextlib.AbstractContextManager[subprocess.Popen]:
    """The OpenEnv-native countdown environment of ``countdown_server.py`` under OpenEnv's own server."""
    return running([sys.executable, str(HERE / "countdown_server.py"), str(port)], port, startup_s=60)
