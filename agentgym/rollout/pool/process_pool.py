"""``pool=process``: worker processes, each an ``EnvHost`` holding several environments.

One message round trip per worker per step (never per environment). Workers are fresh interpreters
(``agentgym.rollout.pool.worker``; nothing inherited, no ``__main__`` guard needed in scripts) and build
their environments themselves from the ``HostSpec``. A worker that dies (SIGKILL, OOM, a crash in native code) or stops answering is
replaced; the episodes it held end as infrastructure failures.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from multiprocessing.connection import Connection, wait
from typing import Any

from agentgym.rollout.pool.protocol import EnvFailure, HostSpec
from agentgym.rollout.pool.workers import START_TIMEOUT_S, Requests, WorkerPool


class _Worker:
    """One worker process and the parent's end of its socket pair."""

    def __init__(self, spec: HostSpec, count: int, number: int):
        parent, child = socket.socketpair()
        self.process = subprocess.Popen([sys.executable, "-m", "agentgym.rollout.pool.worker", str(child.fileno())],
                                        pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL)
        child.close()
        self.conn = Connection(parent.detach())
        self.conn.send((spec, count))
        self.number = number
        self.pid: int | None = None

    def await_ready(self, spec: HostSpec) -> None:
        if not self.conn.poll(START_TIMEOUT_S):
            self.kill()
            raise RuntimeError(f"an environment worker for {spec.env_id} did not start within {START_TIMEOUT_S} s")
        try:
            kind, value = self.conn.recv()
        except EOFError:
            raise RuntimeError(f"an environment worker for {spec.env_id} exited while building its environments "
                               f"(exit code {self.process.poll()})") from None
        if kind == "error":
            raise RuntimeError(f"an environment worker could not build {spec.env_id!r} (split {spec.split!r}):\n"
                               f"{value}")
        self.pid = value

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        self.conn.close()


class ProcessEnvPool(WorkerPool):
    def __init__(self, spec: HostSpec, size: int, workers: int):
        super().__init__(spec, size, workers)
        self.workers = [_Worker(spec, n, w) for w, n in enumerate(self.sizes)]
        try:
            for worker in self.workers:  # all start at once, then each is awaited
                worker.await_ready(spec)
        except BaseException:
            self.close()
            raise

    def worker_pids(self) -> list[int | None]:
        return [w.pid for w in self.workers]

    def task_ids(self) -> list[str]:
        worker = self.workers[0]
        worker.conn.send(("task_ids", None, ()))
        kind, value = worker.conn.recv()
        if kind != "ok":
            raise RuntimeError(f"task_ids() of {self.env_id} failed in its worker:\n{value}")
        return value

    def _exchange(self, op: str, requests: Requests, info_keys: tuple[str, ...],
                  timeout: float | None) -> tuple[dict[int, list[Any]], dict[int, EnvFailure]]:
        answers: dict[int, list[Any]] = {}
        lost: dict[int, EnvFailure] = {}
        for w, items in requests.items():
            try:
                self.workers[w].conn.send((op, items, info_keys))
            except (BrokenPipeError, OSError):
                lost[w] = EnvFailure("worker_died", f"environment worker {w} was gone before the {op}")
        pending = {w for w in requests if w not in lost}
        deadline = self.answer_deadline(timeout)
        while pending:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            by_handle = {self.workers[w].conn: w for w in pending}  # a dead worker's socket reads EOF
            ready = wait(list(by_handle), timeout=left)
            if not ready:
                lost.update({w: self.silent(f"environment worker {w}", op, timeout) for w in pending})
                break
            for w in {by_handle[h] for h in ready}:
                answer = self._receive(w)
                pending.discard(w)
                if isinstance(answer, EnvFailure):
                    lost[w] = answer
                else:
                    answers[w] = answer
        return answers, lost

    def _receive(self, w: int) -> list[Any] | EnvFailure:
        conn = self.workers[w].conn
        try:
            kind, value = conn.recv()
        except (EOFError, OSError):
            try:
                code = self.workers[w].process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
            return EnvFailure("worker_died", f"environment worker {w} (pid {self.workers[w].pid}) died"
                                             f"{'' if code is None else f' with exit code {code}'}")
        if kind == "fail":
            return EnvFailure("error", f"environment worker {w} could not answer", value)
        return value

    def _restart(self, w: int) -> None:
        """Kill (if still running) and replace worker ``w``, building its environments afresh."""
        self.workers[w].kill()
        self.workers[w] = _Worker(self.spec, self.sizes[w], w)
        self.workers[w].await_ready(self.spec)

    def close(self) -> None:
        for worker in self.workers:
            try:
                worker.conn.send(("close", None, ()))
            except (BrokenPipeError, OSError):
                pass
        for worker in self.workers:
            try:
                worker.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            worker.kill()
