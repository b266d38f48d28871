"""Running untrusted Python: limits, results and process handling shared by the Docker and bubblewrap backends.

Both backends start a fresh, empty, size-limited working directory per run, receive the program and
its data files as JSON on stdin (a tiny bootstrap writes them and execs ``python -I main.py``), have
no network, and enforce the same limits, so a program gives the same result on either. Docker is used
when an engine is reachable; otherwise bubblewrap (Linux namespaces) plus ``prlimit``
(``sandbox_choice.choose_backend``, logged once per process).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("agentgym.tools.sandbox")

WORKDIR = "/sandbox"
BOOTSTRAP = ("import json,os,sys;d=json.loads(sys.stdin.buffer.read());"
             "[open(n,'w',encoding='utf-8').write(t) for n,t in d.items()];"
             "os.execv(sys.executable,[sys.executable,'-I','main.py'])")
TIMEOUT_EXIT = 124  # coreutils `timeout` exit status when the program ran out of time
SANDBOX_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": WORKDIR, "LANG": "C.UTF-8",
               "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 5.0
    memory_mb: int = 256
    max_procs: int = 32
    max_file_mb: int = 8
    disk_mb: int = 16
    max_output_bytes: int = 20_000


@dataclass(frozen=True)
class RunResult:
    stdout: str
    stderr: str
    exit_code: int | None
    timed_out: bool
    duration_s: float
    backend: str
    oom_killed: bool = False  # the run's memory cgroup reached its limit and the kernel killed a process
    memory_watched: bool = False  # a memory cgroup counted the run's OOM kills: a SIGKILL without one was not memory

    def limit_hit(self, limits: Limits) -> str | None:
        """Which limit stopped the program, in words (None if it ended on its own)."""
        if self.oom_killed:
            return f"it ran out of memory (limit {limits.memory_mb} MB for all its processes and files)"
        killed = self.exit_code in (-signal.SIGKILL, 128 + signal.SIGKILL)
        # a program that ignores the timeout's SIGTERM is SIGKILLed a second later: exit 137, like an OOM kill
        if self.timed_out or self.exit_code == TIMEOUT_EXIT or (killed and self.duration_s >= limits.timeout_s):
            return f"it exceeded the {limits.timeout_s:g} s time limit and was killed"
        if self.exit_code in (-signal.SIGXCPU, 128 + signal.SIGXCPU):
            return "it used up its CPU-time limit and was killed"
        if "MemoryError" in self.stderr:
            return f"it ran out of memory (limit {limits.memory_mb} MB)"
        if killed and self.memory_watched:
            return ("it was killed by a SIGKILL that was not its memory limit (its memory cgroup recorded no "
                    "out-of-memory kill)")
        if killed:  # no cgroup to ask: a memory kill is the likely cause, not a certain one
            return (f"it was killed (SIGKILL) before its time limit, most likely because it ran out of memory "
                    f"(limit {limits.memory_mb} MB)")
        if "Resource temporarily unavailable" in self.stderr or "BlockingIOError" in self.stderr:
            return f"it reached the limit of {limits.max_procs} processes"
        if "File too large" in self.stderr or "No space left on device" in self.stderr:
            return f"it reached the file-size limit ({limits.max_file_mb} MB per file, {limits.disk_mb} MB in all)"
        return None

    def describe(self, limits: Limits) -> str:
        """What the agent reads after ``run_python``."""
        parts = []
        hit = self.limit_hit(limits)
        if hit:
            parts.append(f"The program was stopped: {hit}.")
        parts.append(f"Exit code: {self.exit_code if self.exit_code is not None else 'none (killed)'}")
        parts.append("stdout:\n" + (self.stdout if self.stdout.strip() else "(empty)"))
        if self.stderr.strip():
            parts.append("stderr:\n" + self.stderr)
        return "\n".join(parts)


class Backend(Protocol):
    name: str

    def run(self, code: str, files: dict[str, str], limits: Limits) -> RunResult: ...


def interpreter_command(python: str, limits: Limits) -> list[str]:
    """Inside the sandbox: coreutils ``timeout`` (TERM, then KILL a second later) around the bootstrap,
    so the program's wall-clock limit does not include sandbox start-up and reads alike on all backends."""
    return ["timeout", "--kill-after=1", f"{limits.timeout_s:g}", python, "-I", "-c", BOOTSTRAP]


def run_capped(cmd: Sequence[str], stdin: bytes, limits: Limits, backend: str, grace_s: float = 3.0,
               on_timeout: Callable[[], None] | None = None, **popen_kwargs) -> RunResult:
    """Run ``cmd`` in its own session; keep at most ``max_output_bytes`` of each stream. The in-sandbox
    ``timeout`` normally ends a slow program; as a backstop, after ``timeout_s + grace_s`` the whole
    process group is killed (and ``on_timeout`` called, e.g. ``docker kill``)."""
    start = time.monotonic()
    proc = subprocess.Popen(list(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, **popen_kwargs)
    buffers: dict[str, bytearray] = {"out": bytearray(), "err": bytearray()}
    readers = [threading.Thread(target=_drain, args=(stream, buffers[key], limits.max_output_bytes), daemon=True)
               for key, stream in (("out", proc.stdout), ("err", proc.stderr))]
    for reader in readers:
        reader.start()
    try:
        proc.stdin.write(stdin)
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass
    timed_out = False
    try:
        proc.wait(timeout=limits.timeout_s + grace_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc.pid)
        if on_timeout is not None:
            on_timeout()
        proc.wait()
    for reader in readers:
        reader.join(timeout=5)
    _kill_group(proc.pid)  # leftovers that outlived their parent (pid-namespace init usually took them)
    exit_code = None if timed_out else proc.returncode
    timed_out = timed_out or exit_code == TIMEOUT_EXIT
    return RunResult(_text(buffers["out"], limits), _text(buffers["err"], limits), exit_code, timed_out,
                     time.monotonic() - start, backend)


def _drain(stream, buffer: bytearray, cap: int) -> None:
    while chunk := stream.read(65536):
        if len(buffer) < cap:
            buffer.extend(chunk[: cap - len(buffer)])
    stream.close()


def _text(buffer: bytearray, limits: Limits) -> str:
    text = buffer.decode("utf-8", errors="replace")
    if len(buffer) >= limits.max_output_bytes:
        text += f"\n... [output cut at {limits.max_output_bytes} bytes]"
    return text


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
