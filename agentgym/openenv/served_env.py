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


class ClientError(ValueError):
    """A request the client got wrong (an unknown split, a step limit <= 0, a step before any reset): answered
    ``status`` (4xx) over HTTP, an error message on a WebSocket session, which stays open."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


SPLIT_TYPES = {"train": "train", "valid_seen": "validation", "valid_unseen": "test"}  # the task API's split kinds


def check_split(split: Any) -> str:
    if split not in SPLITS:
        raise ClientError(f"Unknown split {split!r}; choose one of {list(SPLITS)}.")
    return split


def check_max_steps(max_steps: Any) -> int | None:
    if max_steps is None:
        return None
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ClientError(f"max_steps must be a whole number >= 1, got {max_steps!r}")
    return max_steps


class ServedTextEnv(Environment[TextAction, TextObservation, TextEnvState]):
    """One session's environment. ``reset`` takes gymnasium's ``seed`` and ``options`` (``task_id``),
    OpenEnv's task API (``split``, ``index``; ``task_index`` too) and the step limit (``max_steps``);
    ``info_keys`` (reset kwarg, or the action's ``metadata["info_keys"]``) lists the deferred info values to
    compute, all of them when absent. A session holds one environment: a reset with another split or step
    limit closes it and builds the next, so a session's memory does not grow with the settings it tries."""

    SUPPORTS_CONCURRENT_SESSIONS = True  # every session gets its own environment instance

    def __init__(self, spec: ServedSpec):
        super().__init__()
        self.spec = spec
        self._env_built: Any = None
        self._built_for: tuple[str, int | None] | None = None  # (split, max_steps) of _env_built
        self._started = False
        self._state = TextEnvState(env_id=spec.env_id, split=spec.split, env_kwargs=spec.env_kwargs)

    # ---- the OpenEnv Environment API -----------------------------------------------------------
    def reset(self, seed: int | None = None, episode_id: str | None = None, split: str | None = None,
              index: int | None = None, task_id: str | None = None, options: dict[str, Any] | None = None,
              info_keys: list[str] | None = None, max_steps: int | None = None,
              task_index: int | None = None) -> TextObservation:
        split = check_split(split or self.spec.split)
        max_steps = check_max_steps(max_steps)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ClientError(f"seed must be a whole number, got {seed!r}")
        if options is not None and not isinstance(options, dict):
            raise ClientError(f"options must be an object, got {type(options).__name__}")
        options = dict(options or {})
        index = index if index is not None else task_index
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int):
                raise ClientError(f"index must be a whole number, got {index!r}")
            options["task_id"] = self.get_task(split, index)["id"]
        if task_id is not None:
            options["task_id"] = str(task_id)
        # the step limit is the one constructor setting a client may choose: the environment is built with it
        env = self._env(split, max_steps)
        obs, info = env.reset(seed=seed, options=options or None)
        self._started = True
        self._state = TextEnvState(episode_id=episode_id, step_count=0, env_id=self.spec.env_id, split=split,
                                   task_id=info.get("task_id"), max_steps=getattr(env.unwrapped, "max_steps", None),
                                   env_kwargs=self.spec.env_kwargs)
        return self._observation(obs, None, False, False, info, info_keys)

    def step(self, action: TextAction, timeout_s: float | None = None, **kwargs: Any) -> TextObservation:
        if not self._started:
            raise ClientError("step before reset: reset the session first. OpenEnv's HTTP /step is stateless "
                              "(each request gets a fresh environment), so episodes are played over the "
                              "WebSocket session (/ws)", status=409)
        obs, reward, terminated, truncated, info = self._env_built.step(action.message)
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
        env, self._env_built, self._built_for = self._env_built, None, None
        if env is not None:
            env.close()

    # ---- OpenEnv's task API (routes /{name}/splits, /tasks, /num_tasks, /task, /task_range) --------
    def list_splits(self) -> list[dict[str, str]]:
        return [{"name": split, "type": SPLIT_TYPES[split]} for split in SPLITS]

    def list_tasks(self, split: str) -> list[dict[str, Any]]:
        return [{"id": task_id, "index": i} for i, task_id in enumerate(self.spec.task_ids(check_split(split)))]

    def num_tasks(self, split: str) -> int:
        return len(self.spec.task_ids(check_split(split)))

    def get_task(self, split: str, index: int) -> dict[str, Any]:
        ids = self.spec.task_ids(check_split(split))
        if not 0 <= index < len(ids):
            raise IndexError(f"task index {index} is outside split {split!r} (0..{len(ids) - 1})")
        return {"id": ids[index], "index": index}

    def get_task_range(self, split: str, start: int | None = None, stop: int | None = None) -> list[dict[str, Any]]:
        return self.list_tasks(split)[slice(start, stop)]

    # ---- helpers --------------------------------------------------------------------------------
    def _env(self, split: str, max_steps: int | None) -> Any:
        if self._built_for != (split, max_steps):
            self.close()
            self._env_built = self.spec.make(split, max_steps)
            self._built_for = (split, max_steps)
        return self._env_built

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
