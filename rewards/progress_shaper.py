"""The ``progress`` shaper: the environment's sparse reward becomes a dense stepwise one (SPA-RL).

r_t = alpha * c_t + beta * grounding_t, where c_t is the progress estimator's contribution of step t
(``batch.extras["progress"]``, put there by the trainer) and grounding_t = 1 when the step's action
was parsed and executed by the environment. Only the environment's own reward (``env_reward``) is
replaced: what earlier shapers added or subtracted (e.g. the invalid-action penalty) is kept.

Beware: beta * grounding_t is paid on every valid step, so under an undiscounted trajectory return
(GRPO, RLOO, GiGPO's episode level) a longer episode earns more; on FrozenLake GRPO + progress learned
to stall until truncation in one of three seeds (docs/benchmarks.md). ``beta=0`` removes the incentive.
"""

from __future__ import annotations

import numpy as np

from agentgym.credit.registry import SHAPERS
from agentgym.types import StepBatch


@SHAPERS.register("progress")
def progress_reward(batch: StepBatch, alpha: float = 1.0, beta: float = 0.5) -> StepBatch:
    if "progress" not in batch.extras:
        raise KeyError("the progress shaper needs a 'progress' column (c_t per step); the trainer adds it when "
                       "'progress' is in shapers (see TrainConfig.progress_estimator)")
    contribution = np.asarray(batch.extras["progress"], dtype=np.float64)
    env_reward = np.asarray(batch.extras.get("env_reward", batch.reward), dtype=np.float64)
    grounding = batch.flag("action_valid") & batch.flag("format_valid")
    return batch.with_reward(batch.reward - env_reward + alpha * contribution + beta * grounding)


progress_reward.requires = ("progress",)  # columns the trainer must provide before this shaper runs

