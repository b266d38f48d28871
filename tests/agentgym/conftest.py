"""Fixtures shared by the trainer's tests."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

COUNTDOWN_SERVER = Path(__file__).resolve().parent / "openenv" / "countdown_server.py"


@pytest.fixture(scope="module")
def micro_model(tmp_path_factory):
    """A tiny random-init model with a tokenizer trained on FrozenLake text (seconds to build)."""
    from policies.tiny import TinyConfig, build_tiny_model

    cfg = TinyConfig(vocab_size=512, hidden_size=64, num_layers=1, num_heads=1, num_kv_heads=1,
                     intermediate_size=128, corpus_episodes=30)
    return str(build_tiny_model(tmp_path_factory.mktemp("micro") / "model", cfg=cfg))


class OpenEnvServers:
    """Real OpenEnv server processes on free ports, each in its own process group, all killed when the
    fixture ends (importing openenv costs seconds, so a module shares its servers)."""

    def __init__(self):
        self.stack = contextlib.ExitStack()

    def serve_env(self, env_id, *flags):
        """``python -m agentgym.serve_env ENV_ID`` -> (its URL, its process), once ``/health`` answers."""
        return self.start([sys.executable, "-m", "agentgym.serve_env", env_id, *flags])

    def serve_countdown(self):
        """``countdown_server.py``: an environment written with OpenEnv's own API, under OpenEnv's server."""
        return self.start([sys.executable, str(COUNTDOWN_SERVER)])

    @staticmethod
    def free_port():
        return free_port()

    def start(self, command, startup_s=300.0):
        port = free_port()
        proc = subprocess.Popen([*command, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, text=True)
        self.stack.callback(_kill, proc)
        _wait_healthy(port, proc, startup_s)
        return f"http://127.0.0.1:{port}", proc


@pytest.fixture(scope="module")
def openenv_servers():
    pytest.importorskip("openenv")
    servers = OpenEnvServers()
    with servers.stack:
        yield servers


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(port, proc, startup_s):
    import httpx

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


def _kill(proc):
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()
