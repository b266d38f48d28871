"""``env_backend=ray``: the process backend's worker as Ray actors, each holding many environments.

``ray_address`` joins a running cluster (``ray start --head`` / ``ray start --address=...`` on every
machine, with this package installed on each); otherwise a local Ray instance is started with one
CPU per worker and stopped again when the pool closes. One actor per worker, never one per
environment: peers that run an actor per environment need tens of CPUs for ALFWorld alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from agentgym.pool.host import EnvHost
from agentgym.pool.partition import split_by_worker, worker_sizes
from agentgym.pool.process_pool import ANSWER_GRACE_S, START_TIMEOUT_S
from agentgym.pool.protocol import EnvFailure, HostSpec


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
        raise ImportError("env_backend=ray needs Ray: pip install -c constraints.txt -e '.[ray]'") from exc
    return ray


class RayEnvPool:
    def __init__(self, spec: HostSpec, size: int, workers: int, address: str | None = None):
        ray = _ray()
        self.env_id, self.spec, self.size = spec.env_id, spec, size
        self.sizes = worker_sizes(size, max(1, min(workers, size)))
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            options = {"address": address} if address else {"num_cpus": len(self.sizes)}
            ray.init(**options, include_dashboard=False, log_to_driver=False, configure_logging=False)
        self._actor_class = ray.remote(num_cpus=1, max_restarts=0)(EnvHostActor)
        self._restarts = 0
        try:
            self.actors = [self._actor_class.remote(spec, n) for n in self.sizes]
            self.pids = ray.get([a.pid.remote() for a in self.actors], timeout=START_TIMEOUT_S)
        except Exception as exc:
            self.close()
            raise RuntimeError(f"Ray environment workers could not build {spec.env_id!r}: {exc}") from exc

    def __len__(self) -> int:
        return self.size

    @property
    def worker_restarts(self) -> int:
        return self._restarts

    def worker_pids(self) -> list[int]:
        return list(self.pids)

    def reset(self, indices: Sequence[int], resets: Sequence[dict[str, Any]],
              info_keys: Sequence[str] = ()) -> list[Any]:
        return self._call("reset", indices, resets, info_keys, self.spec.reset_timeout_s)

    def step(self, indices: Sequence[int], actions: Sequence[str], info_keys: Sequence[str] = ()) -> list[Any]:
        return self._call("step", indices, actions, info_keys, self.spec.step_timeout_s)

    def task_ids(self) -> list[str]:
        return _ray().get(self.actors[0].task_ids.remote())

    def _call(self, op: str, indices: Sequence[int], args: Sequence[Any], info_keys: Sequence[str],
              timeout: float | None) -> list[Any]:
        ray = _ray()
        results: list[Any] = [None] * len(indices)
        shares = split_by_worker(indices, args, len(self.actors))
        refs = {w: self.actors[w].call.remote(op, [(local, arg) for _, local, arg in items], tuple(info_keys))
                for w, items in shares.items()}
        deadline = None if timeout is None else time.monotonic() + timeout + ANSWER_GRACE_S
        lost: dict[int, EnvFailure] = {}
        for w, ref in refs.items():
            left = None if deadline is None else max(deadline - time.monotonic(), 0.001)
            try:
                answer = ray.get(ref, timeout=left)
            except ray.exceptions.GetTimeoutError:
                lost[w] = EnvFailure("timeout", f"Ray environment worker {w} gave no answer to a {op} within "
                                                f"{timeout} + {ANSWER_GRACE_S} s")
                continue
            except ray.exceptions.RayActorError as exc:
                lost[w] = EnvFailure("worker_died", f"Ray environment worker {w} (pid {self.pids[w]}) died: "
                                                    f"{str(exc).splitlines()[0]}")
                continue
            except ray.exceptions.RayTaskError as exc:
                lost[w] = EnvFailure("error", f"Ray environment worker {w} could not answer", str(exc))
                continue
            for (position, _, _), result in zip(shares[w], answer):
                results[position] = result
        for w, failure in lost.items():
            for position, _, _ in shares[w]:
                results[position] = failure
            if failure.kind != "error":
                self._restart(w)
        return results

    def _restart(self, w: int) -> None:
        ray = _ray()
        ray.kill(self.actors[w], no_restart=True)
        self.actors[w] = self._actor_class.remote(self.spec, self.sizes[w])
        self.pids[w] = ray.get(self.actors[w].pid.remote(), timeout=START_TIMEOUT_S)
        self._restarts += 1

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
