"""Asynchronous rollouts: the next batches are collected on the generation engine while the trainer updates.

One background thread collects batch i (the rollouts that update i trains on) as soon as the
trainer has applied at least ``i - max_staleness`` updates, so with ``max_staleness = 1`` batch
i + 1 is sampled while update i runs, as in verl's one-step off-policy mode. The engine takes new
weights only between two batches (the latest snapshot the trainer published), so every sample of a
batch carries the same policy version, and no batch is ever more than ``max_staleness`` updates old.
With ``max_staleness = 0`` the trainer does not use this class: it collects and syncs inline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from agentgym.core.types import Trajectory
from agentgym.inference.protocol import RolloutEngine
from agentgym.rollout.collect import RolloutStats


@dataclass
class RolloutBatch:
    iteration: int  # the update that trains on it
    trajectories: list[Trajectory]
    stats: RolloutStats
    task_rng_state: dict[str, Any]  # the task sampler before this batch drew its tasks (checkpoints resume here)
    engine_version: int
    sync_s: float = 0.0  # time the engine spent taking new weights before this batch


class RolloutProducer:
    """Collects ``RolloutBatch``es in a background thread; ``next(i)`` hands batch i to the trainer."""

    def __init__(self, engine: RolloutEngine, collect: Callable[[], tuple[list[Trajectory], RolloutStats]],
                 task_rng: np.random.Generator, max_staleness: int, first_iteration: int):
        self.engine, self.collect, self.task_rng = engine, collect, task_rng
        self.max_staleness = max_staleness
        self._cond = threading.Condition()
        self._updates = first_iteration  # updates the trainer has applied
        self._snapshot: Any = None
        self._snapshot_version = engine.version
        self._ready: dict[int, RolloutBatch] = {}
        self._rng_states: dict[int, dict[str, Any]] = {}
        self._error: BaseException | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, args=(first_iteration,), name="rollout-producer",
                                        daemon=True)
        self._thread.start()

    # ---- trainer side -------------------------------------------------------------------------
    def publish(self, snapshot: Any, version: int) -> None:
        """The trainer finished update ``version`` (its weights' snapshot); batches may now run further ahead."""
        with self._cond:
            self._snapshot, self._snapshot_version, self._updates = snapshot, version, version
            self._cond.notify_all()

    def next(self, iteration: int) -> tuple[RolloutBatch, float]:
        """(batch ``iteration``, seconds waited for it); re-raises the collector's error."""
        tick = time.perf_counter()
        with self._cond:
            while iteration not in self._ready and self._error is None:
                self._cond.wait(timeout=1.0)
            if iteration not in self._ready:
                raise RuntimeError(f"asynchronous rollouts stopped: {self._error!r}") from self._error
            batch = self._ready.pop(iteration)
            self._rng_states.pop(iteration, None)
        return batch, time.perf_counter() - tick

    def task_rng_state(self, iteration: int) -> dict[str, Any]:
        """The task sampler's state before batch ``iteration`` drew its tasks (what a checkpoint must hold)."""
        with self._cond:
            if iteration in self._rng_states:
                return self._rng_states[iteration]
            return self.task_rng.bit_generator.state

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=60)

    # ---- background thread --------------------------------------------------------------------
    def _loop(self, iteration: int) -> None:
        while True:
            with self._cond:
                while not self._stopping and self._updates < iteration - self.max_staleness:
                    self._cond.wait()
                if self._stopping:
                    return
                newer = self._snapshot_version > self.engine.version
                snapshot, version = self._snapshot, self._snapshot_version
                rng_state = self._rng_states[iteration] = self.task_rng.bit_generator.state
            try:
                tick = time.perf_counter()
                if newer:
                    self.engine.load(snapshot, version)
                sync_s = time.perf_counter() - tick
                trajectories, stats = self.collect()
            except BaseException as exc:  # noqa: BLE001 - handed to the trainer's thread by next()
                with self._cond:
                    self._error = exc
                    self._cond.notify_all()
                return
            with self._cond:
                self._ready[iteration] = RolloutBatch(iteration, trajectories, stats, rng_state, self.engine.version,
                                                      sync_s)
                self._cond.notify_all()
            iteration += 1
