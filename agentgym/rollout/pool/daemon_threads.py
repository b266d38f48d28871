"""A thread pool whose threads are daemons, so an environment call that never returns cannot keep
the process alive at exit (``concurrent.futures.ThreadPoolExecutor`` joins its threads at exit).

A caller that gives up on a call (a timeout) calls ``replace_stuck`` so the pool keeps its size.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

_STOP = object()


class DaemonThreads:
    def __init__(self, size: int, name: str = "env"):
        self.name = name
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        for _ in range(max(1, size)):
            self._add_thread()

    def _add_thread(self) -> None:
        thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _work(self) -> None:
        while (task := self._tasks.get()) is not _STOP:
            future, fn, args = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
                future.set_exception(exc)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        self._tasks.put((future, fn, args))
        return future

    def replace_stuck(self, count: int) -> None:
        """Start ``count`` new threads in place of threads stuck in abandoned calls."""
        self._threads = [t for t in self._threads if t.is_alive()]
        for _ in range(count):
            self._add_thread()

    def shutdown(self) -> None:
        """Idle threads exit; a thread stuck in a call is left to die with the process (it is a daemon)."""
        for _ in self._threads:
            self._tasks.put(_STOP)
