"""Any registered environment as an OpenEnv ``Environment``: one instance per WebSocket session.

The environment itself is built on the session's first reset, for the split that reset asks for
(``split=``; the server's ``--split`` otherwise), so OpenEnv's task-discovery routes, which construct a
throwaway instance per request, cost nothing. Task ids come from a per-server cache.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import EnvironmentMetadata

from agentgym.core.env import SPLITS
from agentgym.core.lazy_info import resolve_info
from agentgym.core.registry import make
from agentgym.openenv.wire import TextAction, TextEnvState, TextObservation, json_safe


class ServedSpec:
    """What every session of one server builds: an id, a default split and constructor kwargs, plus the
    split -> task ids cache the task-discovery routes read."""

    def __init__(self, env_id: str, split: str = "train", env_kwargs: dict[str, Any] | None = None):
        if split not in SPLITS:
            raise ValueError(f"Unknown split {split!r}; choose one of {SPLITS}.")
        self.env_id, self.split, self.env_kwargs = env_id, split, dict(env_kwargs or {})
        self._task_ids: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def make(self, split: str, max_steps: int | None = None) -> Any:
        kwargs = dict(self.env_kwargs) if max_steps is None else {**self.env_kwargs, "max_steps": max_steps}
        return make(self.env_id, split=split, **kwargs)

    def task_ids(self, split: str) -> list[str]:
        with self._lock:
            if split not in self._task_ids:
                env = self.make(split)
                try:
                    self._task_ids[split] = [str(t) for t in env.unwrapped.task_ids()]
                finally:
                    env.close()
            return self._task_ids[split]


class ServedTextEnv(Environment[TextAction, TextObservation, TextEnvState]):
    """One session's environment. ``reset`` takes gymnasium's ``seed`` and ``options`` (``task_id``),
    OpenEnv's task API (``split``, ``index``) and the step limit (``max_steps``); ``info_keys`` (reset
    kwarg, or the action's ``metadata["info_keys"]``) lists the deferred info values to compute, all of
    them when absent."""

    SUPPORTS_CONCURRENT_SESSIONS = True  # every session gets its own environment instance

    def __init__(self, spec: ServedSpec):
        super().__init__()
        self.spec = spec
        self._envs: dict[tuple[str, int | None], Any] = {}  # (split, max_steps) -> its environment
        self._key: tuple[str, int | None] = (spec.split, None)
        self._state = TextEnvState(env_id=spec.env_id, split=spec.split, env_kwargs=spec.env_kwargs)

    # ---- the OpenEnv Environment API -----------------------------------------------------------
    def reset(self, seed: int | None = None, episode_id: str | None = None, split: str | None = None,
              index: int | None = None, task_id: str | None = None, options: dict[str, Any] | None = None,
              info_keys: list[str] | None = None, max_steps: int | None = None) -> TextObservation:
        split = split or self.spec.split
        if split not in SPLITS:
            raise ValueError(f"Unknown split {split!r}; choose one of {SPLITS}.")
        options = dict(options or {})
        if index is not None:
            options["task_id"] = self.get_task(split, int(index))["id"]
        if task_id is not None:
            options["task_id"] = str(task_id)
        # the step limit is the one constructor setting a client may choose: the environment is built with it
        self._key = (split, None if max_steps is None else int(max_steps))
        env = self._env()
        obs, info = env.reset(seed=seed, options=options or None)
        self._state = TextEnvState(episode_id=episode_id, step_count=0, env_id=self.spec.env_id, split=split,
                                   task_id=info.get("task_id"), max_steps=getattr(env.unwrapped, "max_steps", None),
                                   env_kwargs=self.spec.env_kwargs)
        return self._observation(obs, None, False, False, info, info_keys)

    def step(self, action: TextAction, timeout_s: float | None = None, **kwargs: Any) -> TextObservation:
        obs, reward, terminated, truncated, info = self._env().step(action.message)
        self._state.step_count += 1
        return self._observation(obs, reward, terminated, truncated, info, action.metadata.get("info_keys"))

    @property
    def state(self) -> TextEnvState:
        return self._state

    def get_metadata(self) -> EnvironmentMetadata:
        from agentgym import __version__

        return EnvironmentMetadata(name=self.spec.env_id, version=__version__, author="agentgym",
                                   description=f"{self.spec.env_id} served by agentgym (default split "
                                               f"{self.spec.split}); observations carry terminated, "
                                               "truncated and info")

    def close(self) -> None:
        for env in self._envs.values():
            env.close()
        self._envs.clear()

    # ---- OpenEnv's task API (routes /{name}/splits, /tasks, /num_tasks, /task, /task_range) --------
    def list_splits(self) -> list[str]:
        return list(SPLITS)

    def list_tasks(self, split: str) -> list[dict[str, Any]]:
        return [{"id": task_id, "index": i} for i, task_id in enumerate(self.spec.task_ids(split))]

    def num_tasks(self, split: str) -> int:
        return len(self.spec.task_ids(split))

    def get_task(self, split: str, index: int) -> dict[str, Any]:
        ids = self.spec.task_ids(split)
        if not 0 <= index < len(ids):
            raise IndexError(f"task index {index} is outside split {split!r} (0..{len(ids) - 1})")
        return {"id": ids[index], "index": index}

    def get_task_range(self, split: str, start: int | None = None, stop: int | None = None) -> list[dict[str, Any]]:
        return self.list_tasks(split)[slice(start, stop)]

    # ---- helpers --------------------------------------------------------------------------------
    def _env(self) -> Any:
        if self._key not in self._envs:
            split, max_steps = self._key
            self._envs[self._key] = self.spec.make(split, max_steps)
        return self._envs[self._key]

    @staticmethod
    def _observation(obs: Any, reward: float | None, terminated: bool, truncated: bool, info: dict[str, Any],
                     info_keys: list[str] | None) -> TextObservation:
        plain = dict(info) if info_keys is None else resolve_info(info, info_keys)
        return TextObservation(text=str(obs), reward=None if reward is None else float(reward),
                               done=bool(terminated or truncated), terminated=bool(terminated),
                               truncated=bool(truncated), info=json_safe(plain))


def session_factory(spec: ServedSpec) -> functools.partial:
    """The factory OpenEnv's server calls once per session (a partial of the class, so the server reads
    ``SUPPORTS_CONCURRENT_SESSIONS`` without building one)."""
    return functools.partial(ServedTextEnv, spec)
