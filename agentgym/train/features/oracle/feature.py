"""Oracle credit's columns as a trainer feature: built with ``credit: oracle``, it asks the rollout for the
expert's ``expert_steps_left`` at every step and writes ``expert_steps_left`` / ``expert_steps_after`` into the
step batch (``agentgym.credit.oracle``), which the ``oracle`` estimator turns into value changes.

Only environments with an expert planner report the value (FrozenLake, TextWorld, ALFWorld, WebShop, the tool
environments, the synthetic ones); any other is refused when the run starts, from one reset of its train split.
"""

from __future__ import annotations

from agentgym.core.registry import make
from agentgym.credit.oracle import AFTER, BEFORE, oracle_columns
from agentgym.train.features.base import SetupContext, TrainerFeature


def require_expert(env_id: str, env_kwargs: dict, seed: int = 0) -> None:
    """Refuse an environment whose reset reports no ``expert_steps_left``."""
    env = make(env_id, split="train", **env_kwargs)
    try:
        _, info = env.reset(seed=seed)
        steps_left = info.get(BEFORE)
    finally:
        env.close()
    if steps_left is None:
        raise ValueError(f"credit=oracle needs info[{BEFORE!r}] (an expert planner's remaining plan length), and "
                         f"{env_id} gives none on reset")


class OracleCredit(TrainerFeature):
    """Built when ``credit=oracle``: the expert's plan length before and after each step, as batch columns."""

    name = "oracle"
    info_keys = (BEFORE,)
    data_parallel = True  # a pure function of the gathered trajectories

    @classmethod
    def check_config(cls, config, settings) -> None:
        if config.credit == "oracle":
            require_expert(config.env, config.env_kwargs, config.seed)

    @classmethod
    def from_config(cls, config, settings, context: SetupContext) -> OracleCredit | None:
        return cls() if config.credit == "oracle" else None

    def annotate(self, trajectories, batch):
        before, after = oracle_columns(trajectories)
        return batch.with_extras(**{BEFORE: before, AFTER: after}), {}
