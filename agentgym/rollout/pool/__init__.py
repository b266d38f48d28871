"""Environment pools: one protocol (``EnvPool``), four backends chosen by name (docs/rollout.md).

``thread``: all environments in this process; ``process``: worker processes holding several each;
``ray``: the same worker as Ray actors, locally or on a cluster; ``remote``: sessions on OpenEnv servers
(``python -m agentgym.serve_env``) on other hosts or in containers. ``make_pool`` picks the
environment's own ``pool_backend`` unless told otherwise.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from agentgym.core.registry import class_attribute
from agentgym.rollout.pool.protocol import FAILURE_KINDS, EnvFailure, EnvPool, HostSpec
from agentgym.util.params import check_choice

BACKENDS = ("thread", "process", "ray", "remote")


def default_backend(env_id: str) -> str:
    """The environment class's ``pool_backend`` (``thread`` when it declares none).

    A class that still declares the old name ``rollout_backend`` (renamed in 0.2) is honoured, with a warning.
    """
    old = class_attribute(env_id, "rollout_backend", None)
    if old is not None:
        warnings.warn(f"{env_id}: the class attribute rollout_backend is now pool_backend; the old name is read "
                      "until the next release", DeprecationWarning, stacklevel=2)
        return str(old)
    return str(class_attribute(env_id, "pool_backend", "thread"))


def make_pool(env_id: str, split: str, size: int, env_kwargs: dict[str, Any] | None = None,
              max_steps: int | None = None, backend: str | None = None, workers: int | None = None,
              step_timeout_s: float | None = 120.0, reset_timeout_s: float | None = 600.0,
              max_observation_chars: int | None = None, ray_address: str | None = None,
              remote_urls: list[str] | None = None) -> EnvPool:
    """``size`` environments of ``env_id`` on ``split`` behind the chosen backend.

    ``workers``: processes or actors (None = one per CPU core, at most ``size``); the thread
    backend steps each environment on its own thread. ``remote_urls``: the OpenEnv servers of the
    remote backend (sessions spread round robin).
    """
    backend = backend or default_backend(env_id)
    check_choice(backend, BACKENDS, "pool")
    if size < 1:
        raise ValueError(f"an environment pool needs size >= 1, got {size}")
    kwargs = dict(env_kwargs or {})
    if max_steps is not None:
        kwargs["max_steps"] = max_steps
    spec = HostSpec(env_id, split, kwargs, step_timeout_s, reset_timeout_s, max_observation_chars)
    workers = min(workers or os.cpu_count() or 1, size)
    if backend == "thread":
        from agentgym.rollout.pool.thread_pool import ThreadEnvPool

        return ThreadEnvPool(spec, size)
    if backend == "process":
        from agentgym.rollout.pool.process_pool import ProcessEnvPool

        return ProcessEnvPool(spec, size, workers)
    if backend == "remote":
        from agentgym.rollout.pool.remote_pool import RemoteEnvPool

        return RemoteEnvPool(spec, size, remote_urls or [])
    from agentgym.rollout.pool.ray_pool import RayEnvPool

    return RayEnvPool(spec, size, workers, ray_address)


__all__ = ["BACKENDS", "FAILURE_KINDS", "EnvFailure", "EnvPool", "HostSpec", "default_backend", "make_pool"]
