"""The project's policy server (``python -m policies.serve``) in a process of its own, for one training run."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from policies.weights import TOKEN_ENV


class ServerProcess:
    """Start the server on a free port and wait until it answers; ``stop()`` ends it (and only it).

    Its output goes to ``log_path`` so a failed start shows why; it runs in its own process group, so
    a stop never leaves a worker behind, and it exits by itself when this process dies (even killed).
    """

    def __init__(self, model_spec: str, version: int = 0, threads: int | None = None,
                 log_path: str | Path | None = None, startup_timeout_s: float = 600.0,
                 name: str = "agentgym-policy", seed: int | None = None, dtype: str = "float32"):
        self.name = name
        port_file = Path(tempfile.mkstemp(prefix="agentgym-serve-", suffix=".port")[1])
        port_file.write_text("")
        self.log_path = Path(log_path) if log_path else port_file.with_suffix(".log")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "policies.serve", "--model", model_spec, "--name", name, "--port", "0",
                   "--port-file", str(port_file), "--version", str(version), "--exit-with-parent", "--dtype", dtype]
        if threads:
            command += ["--threads", str(threads)]
        if seed is not None:
            command += ["--seed", str(seed)]
        self.weights_token = secrets.token_hex(16)  # only this run may push weights into its server
        env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}), TOKEN_ENV: self.weights_token}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            self.port = self._wait(port_file, startup_timeout_s)
        except BaseException:
            self.stop()
            raise
        finally:
            port_file.unlink(missing_ok=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _wait(self, port_file: Path, timeout_s: float) -> int:
        import httpx

        deadline = time.monotonic() + timeout_s
        port = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the rollout server exited with code {self.proc.returncode} while starting; "
                                   f"its log ({self.log_path}) ends:\n{self._log_tail()}")
            text = port_file.read_text().strip()
            if text and port is None:
                port = int(text)
            if port is not None:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                        return port
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        raise TimeoutError(f"the rollout server did not answer within {timeout_s:.0f} s; log: {self.log_path}")

    def _log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=15)
