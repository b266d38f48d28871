"""The environments of one worker: built from (id, split, kwargs), stepped on daemon threads under a
timeout, rebuilt after a fault. Every backend runs exactly this, in-process (thread), in a worker
process (process) or in a Ray actor (ray), so the three give the same trajectories.

What leaves the host is plain data: observations cut to the environment's ``max_observation_chars``
(the cut is recorded as ``info["observation_cut"]``, the number of characters removed) and infos
whose deferred values are computed only for the requested ``info_keys`` (the rest read None).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from agentgym.core.env import DEFAULT_MAX_OBSERVATION_CHARS
from agentgym.core.lazy_info import resolve_info
from agentgym.core.registry import make
from agentgym.rollout.pool.daemon_threads import DaemonThreads
from agentgym.rollout.pool.protocol import EnvFailure, HostSpec
from agentgym.util.text_cut import cut_observation


class EnvHost:
    """``count`` environments of ``spec``; ``call`` runs one reset or step on many of them at once."""

    def __init__(self, spec: HostSpec, count: int):
        self.spec = spec
        self.envs: list[Any] = [self._build() for _ in range(count)]  # a build error here is a config error
        base = self.envs[0].unwrapped if self.envs else None
        own_limit = getattr(base, "max_observation_chars", DEFAULT_MAX_OBSERVATION_CHARS)
        self.max_observation_chars = spec.max_observation_chars or own_limit
        # engines that step under a process-wide lock get one thread: more would only contend for it
        self.threads = DaemonThreads(count if getattr(base, "concurrent_steps", True) else 1, name="env")
        self._started: dict[int, float] = {}  # request position -> when its call began (per-step timeouts)

    def _build(self) -> Any:
        return make(self.spec.env_id, split=self.spec.split, **self.spec.env_kwargs)

    def __len__(self) -> int:
        return len(self.envs)

    def task_ids(self) -> list[str]:
        return [str(t) for t in self._env(0).unwrapped.task_ids()]

    def call(self, op: str, items: Sequence[tuple[int, Any]], info_keys: Sequence[str] = ()) -> list[Any]:
        """``op`` ("reset" with kwargs, "step" with an action) on each ``(index, argument)``; one result each."""
        if op not in ("reset", "step"):
            raise ValueError(f"unknown operation {op!r}")
        timeout = self.spec.reset_timeout_s if op == "reset" else self.spec.step_timeout_s
        self._started = {}
        futures = [self.threads.submit(self._run, position, op, index, arg, tuple(info_keys))
                   for position, (index, arg) in enumerate(items)]
        abandoned = self._await(futures, timeout)
        results = []
        for (index, _), future in zip(items, futures):
            if future in abandoned:
                self.envs[index] = None  # its thread is still inside; a fresh env replaces it on the next reset
                results.append(EnvFailure("timeout", f"{op} ran past {timeout} s"))
            elif (exc := future.exception()) is not None:
                results.append(EnvFailure("error", f"{op} raised {type(exc).__name__}: {exc}",
                                          "".join(traceback.format_exception(exc))))
                self._discard(index)
            else:
                results.append(future.result())
        return results

    def _await(self, futures: list[Future], timeout: float | None) -> set[Future]:
        """Wait for every call; give up on a call ``timeout`` seconds after it began (not after the
        batch began: with one thread the calls run one after another) and replace its thread."""
        abandoned: set[Future] = set()
        while pending := [f for f in futures if not f.done() and f not in abandoned]:
            if timeout is None:
                wait(pending)
                continue
            now = time.monotonic()
            running = {f: self._started[p] for p, f in enumerate(futures) if f in pending and p in self._started}
            late = [f for f, began in running.items() if now - began >= timeout]
            if late:
                abandoned.update(late)
                self.threads.replace_stuck(len(late))  # queued calls go on on the fresh threads
                continue
            next_deadline = min(running.values(), default=now) + timeout
            wait(pending, timeout=max(next_deadline - now, 0.01) if running else 0.01, return_when=FIRST_COMPLETED)
        return abandoned

    def _run(self, position: int, op: str, index: int, arg: Any, info_keys: tuple[str, ...]) -> tuple:
        self._started[position] = time.monotonic()
        env = self._env(index)
        if op == "reset":
            obs, info = env.reset(**arg)
            return self._observation(obs, info, info_keys)
        obs, reward, terminated, truncated, info = env.step(arg)
        obs, info = self._observation(obs, info, info_keys)
        return obs, float(reward), bool(terminated), bool(truncated), info

    def _observation(self, obs: Any, info: dict[str, Any], info_keys: tuple[str, ...]) -> tuple[str, dict]:
        return cut_observation(str(obs), resolve_info(info, info_keys), self.max_observation_chars)

    def _env(self, index: int) -> Any:
        if self.envs[index] is None:
            self.envs[index] = self._build()
        return self.envs[index]

    def _discard(self, index: int) -> None:
        """Close a faulty environment (best effort); a fresh one is built on its next use."""
        env, self.envs[index] = self.envs[index], None
        if env is not None:
            try:
                env.close()
            except Exception:  # noqa: BLE001 - the env is being thrown away because it is broken
                pass

    def close(self) -> None:
        self.threads.shutdown()
        for index in range(len(self.envs)):
            self._discard(index)
