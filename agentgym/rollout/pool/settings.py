"""The settings of an environment pool, shared by the trainer's and the evaluator's configs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentgym.util.params import check_choice


@dataclass(kw_only=True)
class PoolSettings:
    """environment pool: backend, workers, timeouts, observation limit (docs/rollout.md)"""

    pool: str | None = None
    """Environment pool: thread | process | ray | remote; None = the environment's own choice (docs/rollout.md)."""
    pool_workers: int | None = None
    """Worker processes (process) or Ray actors (ray); None = one per CPU core. Threads: one per environment."""
    ray_address: str | None = None
    """pool=ray: address of a running Ray cluster to join; None = start a local one."""
    remote_urls: list[str] | None = None
    """pool=remote: the OpenEnv servers to play on (python -m agentgym.serve_env; docs/openenv.md)."""
    env_step_timeout_s: float | None = 120.0
    """A step running longer ends its episode as an infrastructure failure; None = no limit."""
    env_reset_timeout_s: float | None = 600.0
    """The same for a reset (game generation and loading may be slow)."""
    max_observation_chars: int | None = None
    """Cut longer observations (head and tail kept, with a marker); None = the environment's own limit."""

    def check_pool_settings(self) -> None:
        from agentgym.rollout.pool import BACKENDS

        if self.pool is not None:
            check_choice(self.pool, BACKENDS, "pool")
        if (self.pool == "remote") != bool(self.remote_urls):
            raise ValueError("pool=remote and remote_urls go together: remote_urls lists the OpenEnv "
                             f"servers of the remote backend (got pool={self.pool}, "
                             f"remote_urls={self.remote_urls})")
        if self.pool_workers is not None and self.pool_workers < 1:
            raise ValueError(f"pool_workers must be >= 1 (or None), got {self.pool_workers}")
        for name in ("env_step_timeout_s", "env_reset_timeout_s", "max_observation_chars"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0 (or None), got {value}")

    def make_pool(self, env_id: str, split: str, size: int, env_kwargs: dict[str, Any] | None = None,
                  max_steps: int | None = None):
        from agentgym.rollout.pool import make_pool

        return make_pool(env_id, split, size, env_kwargs, max_steps, backend=self.pool,
                         workers=self.pool_workers, step_timeout_s=self.env_step_timeout_s,
                         reset_timeout_s=self.env_reset_timeout_s,
                         max_observation_chars=self.max_observation_chars, ray_address=self.ray_address,
                         remote_urls=self.remote_urls)
