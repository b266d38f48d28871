"""``pool=thread``: every environment in this process, each stepped on its own daemon thread.

Best for cheap environments (no message cost) and I/O-bound ones (HTTP, subprocess tools) whose
steps wait rather than compute. Engines that step under a process-wide lock (TextWorld, ALFWorld)
use one core here whatever the thread count; they default to the process backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentgym.rollout.pool.host import EnvHost
from agentgym.rollout.pool.protocol import HostSpec


class ThreadEnvPool:
    def __init__(self, spec: HostSpec, size: int):
        self.env_id = spec.env_id
        self.host = EnvHost(spec, size)

    def __len__(self) -> int:
        return len(self.host)

    def reset(self, indices: Sequence[int], resets: Sequence[dict[str, Any]],
              info_keys: Sequence[str] = ()) -> list[Any]:
        return self.host.call("reset", list(zip(indices, resets)), info_keys)

    def step(self, indices: Sequence[int], actions: Sequence[str], info_keys: Sequence[str] = ()) -> list[Any]:
        return self.host.call("step", list(zip(indices, actions)), info_keys)

    def task_ids(self) -> list[str]:
        return self.host.task_ids()

    @property
    def worker_restarts(self) -> int:
        return 0  # the only worker is this process

    def close(self) -> None:
        self.host.close()

