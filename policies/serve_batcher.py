"""The policy server's batcher: concurrent requests gathered into one batched ``generate`` call.

Requests from many HTTP threads wait at most ``max_wait_s`` (or until ``max_batch`` are in) and are run on one
thread, one call per prompt kind and sampling setting, like a minimal continuous-batching server. Weight
loads run on that thread between batches, so no response mixes two policy versions.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import astuple
from typing import Any

from agentgym.core.policy import SamplingParams


class Batcher:
    """Collects requests from many threads and runs them through the policy in batches, on one thread.

    Prompts come as chat messages (``policy.generate``) or token ids (``policy.generate_ids``);
    ``call(fn)`` runs ``fn`` on the same thread between batches (weight loads).
    """

    def __init__(self, policy, max_batch: int = 256, max_wait_s: float = 0.01):
        self.policy, self.max_batch, self.max_wait_s = policy, max_batch, max_wait_s
        self.version = 0  # the policy version the weights are at (set by weight loads)
        self.requests: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="policy-batcher", daemon=True)
        self.thread.start()

    def submit(self, messages: list[dict[str, str]], sampling: SamplingParams) -> Future:
        return self._put("messages", messages, sampling)

    def submit_ids(self, prompt_ids: list[int], sampling: SamplingParams) -> Future:
        return self._put("ids", prompt_ids, sampling)

    def call(self, fn: Callable[[], Any]) -> Future:
        return self._put("call", fn, None)

    def _put(self, kind: str, payload: Any, sampling: SamplingParams | None) -> Future:
        future: Future = Future()
        self.requests.put((kind, payload, sampling, future))
        return future

    def close(self) -> None:
        self.requests.put(None)
        self.thread.join(timeout=10)

    def _generate(self, kind: str, items: list[tuple]) -> None:
        """One batched call for ``items``; when it fails, each item again on its own, so a request that
        breaks generation fails alone and its batch-mates are still answered."""
        try:
            payloads, sampling = [payload for _, payload, _, _ in items], items[0][2]
            if kind == "ids":
                generations = self.policy.generate_ids(payloads, sampling)
            else:
                generations = self.policy.generate(payloads, sampling)
        except Exception as exc:  # noqa: BLE001 - the error belongs to the callers
            if len(items) > 1:
                for item in items:
                    self._generate(kind, [item])
            else:
                items[0][3].set_exception(exc)
            return
        for (*_, future), gen in zip(items, generations):
            future.set_result((gen, self.version))

    def _loop(self) -> None:
        while (first := self.requests.get()) is not None:
            batch, deadline, closing = [first], time.monotonic() + self.max_wait_s, False
            while first[0] != "call" and len(batch) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                try:
                    item = self.requests.get(timeout=left)
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                    break
                batch.append(item)
                if item[0] == "call":
                    break
            self._run(batch)
            if closing:
                return

    def _run(self, batch: list[tuple]) -> None:
        groups: dict[tuple, list[tuple]] = {}
        calls = [item for item in batch if item[0] == "call"]
        for item in batch:  # one generate call per prompt kind and distinct sampling setting
            if item[0] != "call":
                groups.setdefault((item[0], astuple(item[2])), []).append(item)
        for (kind, _), items in groups.items():
            self._generate(kind, items)
        for _, fn, _, future in calls:  # after the batch it arrived with: that batch used the old weights
            try:
                future.set_result(fn())
            except Exception as exc:  # noqa: BLE001
                future.set_exception(exc)
