"""``pool=ray``: the process backend's worker as Ray actors, each holding many environments.

``ray_address`` joins a running cluster (``ray start --head`` / ``ray start --address=...`` on every
machine, with this package installed on each); otherwise a local Ray instance is started with one
CPU per worker and stopped again when the pool closes. One actor per worker, never one per
environment: peers that run an actor per environment need tens of CPUs for ALFWorld alone.
"""

from __future__ import annotations

import os
import time
from typing import Any

from agentgym.rollout.pool.host import EnvHost
from agentgym.rollout.pool.protocol import EnvFailure, HostSpec
from agentgym.rollout.pool.workers import START_TIMEOUT_S, Requests, WorkerPool


class EnvHostActor:
    """The Ray actor: an ``EnvHost`` plus its pid (tests kill it to check recovery)."""

    def __init__(self, spec: HostSpec, count: int):
        self.host = EnvHost(spec, count)

    def pid(self) -> int:
        return os.getpid()

    def task_ids(self) -> list[str]:
        return self.host.task_ids()

    def call(self, op: str, items: list[tuple[int, Any]], info_keys: tuple[str, ...]) -> list[Any]:
        return self.host.call(op, items, info_keys)

    def close(self) -> None:
        self.host.close()


def _ray():
    try:
        import ray
    except ImportError as exc:
        raise ImportError("pool=ray needs Ray: pip install -c constraints.txt -e '.[ray]'") from exc
    return ray


class RayEnvPool(WorkerPool):
    def __init__(self, spec: HostSpec, size: int, workers: int, address: str | None = None):
        ray = _ray()
        super().__init__(spec, size, workers)
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            options = {"address": address} if address else {"num_cpus": len(self.sizes)}
            ray.init(**options, include_dashboard=False, log_to_driver=False, configure_logging=False)
        self._actor_class = ray.remote(num_cpus=1, max_restarts=0)(EnvHostActor)
        try:
            self.actors = [self._actor_class.remote(spec, n) for n in self.sizes]
            self.pids = ray.get([a.pid.remote() for a in self.actors], timeout=START_TIMEOUT_S)
        except Exception as exc:
            self.close()
            raise RuntimeError(f"Ray environment workers could not build {spec.env_id!r}: {exc}") from exc

    def worker_pids(self) -> list[int]:
        return list(self.pids)

    def task_ids(self) -> list[str]:
        return _ray().get(self.actors[0].task_ids.remote())

    def _exchange(self, op: str, requests: Requests, info_keys: tuple[str, ...],
                  timeout: float | None) -> tuple[dict[int, list[Any]], dict[int, EnvFailure]]:
        ray = _ray()
        refs = {w: self.actors[w].call.remote(op, items, info_keys) for w, items in requests.items()}
        deadline = self.answer_deadline(timeout)
        answers: dict[int, list[Any]] = {}
        lost: dict[int, EnvFailure] = {}
        for w, ref in refs.items():
            left = None if deadline is None else max(deadline - time.monotonic(), 0.001)
            try:
                answers[w] = ray.get(ref, timeout=left)
            except ray.exceptions.GetTimeoutError:
                lost[w] = self.silent(f"Ray environment worker {w}", op, timeout)
            except ray.exceptions.RayActorError as exc:
                lost[w] = EnvFailure("worker_died", f"Ray environment worker {w} (pid {self.pids[w]}) died: "
                                                    f"{str(exc).splitlines()[0]}")
            except ray.exceptions.RayTaskError as exc:
                lost[w] = EnvFailure("error", f"Ray environment worker {w} could not answer", str(exc))
        return answers, lost

    def _restart(self, w: int) -> None:
        ray = _ray()
        ray.kill(self.actors[w], no_restart=True)
        self.actors[w] = self._actor_class.remote(self.spec, self.sizes[w])
        self.pids[w] = ray.get(self.actors[w].pid.remote(), timeout=START_TIMEOUT_S)

    def close(self) -> None:
        ray = _ray()
        for actor in getattr(self, "actors", []):
            try:
                ray.get(actor.close.remote(), timeout=10)
            except Exception:  # noqa: BLE001 - a dead actor has nothing left to close
                pass
            ray.kill(actor, no_restart=True)
        self.actors = []
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()
