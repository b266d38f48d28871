"""What the process and Ray backends share: environments spread over workers, one request per worker
per call, each worker's answers put back in request order, and a worker that died or went silent
replaced (its environments' results become its ``EnvFailure``).

A backend implements ``_exchange`` (send every worker its request, gather answers or failures) and
``_restart`` (replace one worker).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from agentgym.rollout.pool.partition import split_by_worker, worker_sizes
from agentgym.rollout.pool.protocol import EnvFailure, HostSpec

ANSWER_GRACE_S = 30.0  # a worker answers within its step timeout (the host enforces it) plus this
START_TIMEOUT_S = 900.0  # building environments (ALFWorld loads its data) may take minutes

Requests = dict[int, list[tuple[int, Any]]]  # worker -> [(local index, reset kwargs or action), ...]


class WorkerPool:
    """Base of the pools whose environments live in workers (processes, Ray actors)."""

    def __init__(self, spec: HostSpec, size: int, workers: int):
        self.env_id, self.spec, self.size = spec.env_id, spec, size
        self.sizes = worker_sizes(size, max(1, min(workers, size)))
        self._restarts = 0

    def __len__(self) -> int:
        return self.size

    @property
    def worker_restarts(self) -> int:
        return self._restarts

    def reset(self, indices: Sequence[int], resets: Sequence[dict[str, Any]],
              info_keys: Sequence[str] = ()) -> list[Any]:
        return self._call("reset", indices, resets, info_keys, self.spec.reset_timeout_s)

    def step(self, indices: Sequence[int], actions: Sequence[str], info_keys: Sequence[str] = ()) -> list[Any]:
        return self._call("step", indices, actions, info_keys, self.spec.step_timeout_s)

    def _call(self, op: str, indices: Sequence[int], args: Sequence[Any], info_keys: Sequence[str],
              timeout: float | None) -> list[Any]:
        shares = split_by_worker(indices, args, len(self.sizes))
        requests = {w: [(local, arg) for _, local, arg in items] for w, items in shares.items()}
        answers, lost = self._exchange(op, requests, tuple(info_keys), timeout)
        results: list[Any] = [None] * len(indices)
        for w, answer in answers.items():
            for (position, _, _), result in zip(shares[w], answer):
                results[position] = result
        for w, failure in lost.items():
            for position, _, _ in shares[w]:
                results[position] = failure
            if failure.kind != "error":  # dead or silent: a fresh worker builds its environments again
                self._restart(w)
                self._restarts += 1
        return results

    @staticmethod
    def answer_deadline(timeout: float | None) -> float | None:
        return None if timeout is None else time.monotonic() + timeout + ANSWER_GRACE_S

    @staticmethod
    def silent(who: str, op: str, timeout: float | None) -> EnvFailure:
        return EnvFailure("timeout", f"{who} gave no answer to a {op} within {timeout} + {ANSWER_GRACE_S} s")

    def _exchange(self, op: str, requests: Requests, info_keys: tuple[str, ...],
                  timeout: float | None) -> tuple[dict[int, list[Any]], dict[int, EnvFailure]]:
        """Send each worker its request; ({worker: its results}, {worker: why it gave none})."""
        raise NotImplementedError

    def _restart(self, w: int) -> None:
        raise NotImplementedError
