"""The ``progress`` shaper: the environment's sparse reward becomes a dense stepwise one (SPA-RL).

r_t = alpha * c_t + beta * g_t, where c_t is the progress estimator's contribution of step t
(``batch.extras["progress"]``, put there by the trainer) and g_t is the grounding term built from
v_t = 1 when the step's action was parsed and executed by the environment. Only the environment's own
reward (``env_reward``) is replaced: what earlier shapers added or subtracted (e.g. the invalid-action
penalty) is kept.

``redistribute`` (default true) shifts each trajectory's contributions by one constant so that they sum to
its environment return R: c'_t = c_t + (R - sum_k c_k) / T. The estimator's step-to-step differences are
kept, but the dense reward can only redistribute the outcome, never add to it: with raw c_t (the paper's
use) an estimator that credits every step a little (c ~ +0.04-0.09 per step on FrozenLake) pays a longer
episode more, and GRPO + progress learned to stall on 3 of 3 seeds even with ``grounding: mean``
(docs/benchmarks.md). Under a trajectory-level estimator (GRPO, RLOO) a redistributed reward changes
nothing but the grounding; the step-level ones (GiGPO's step term, REINFORCE++, GAE) see the credit.

``grounding`` chooses g_t:

* ``"mean"`` (default): g_t = v_t / T, T the number of steps of the step's trajectory, so a trajectory's
  grounding sums to beta times its share of valid steps, at most beta whatever its length. A departure
  from SPA-RL (docs/credit.md): the paper's per-step bonus pays beta for every valid step, so under an
  undiscounted return (GRPO, RLOO, GiGPO's episode level) a longer episode earns more, and on FrozenLake
  GRPO + progress learned to stall until truncation in one of three seeds (docs/benchmarks.md).
* ``"step"``: g_t = v_t, the paper's definition.
"""

from __future__ import annotations

import numpy as np

from agentgym.core.types import StepBatch
from agentgym.credit.registry import SHAPERS

GROUNDING = ("mean", "step")


def grounding_term(batch: StepBatch, grounding: str) -> np.ndarray:
    """g_t per step: v_t (``"step"``) or v_t / (steps of its trajectory in the batch) (``"mean"``)."""
    valid = (batch.flag("action_valid") & batch.flag("format_valid")).astype(np.float64)
    if grounding == "step":
        return valid
    if grounding == "mean":
        _, inverse, counts = np.unique(np.asarray(batch.traj_id), return_inverse=True, return_counts=True)
        return valid / counts[inverse]
    raise ValueError(f"progress shaper: grounding must be one of {GROUNDING}, got {grounding!r}")


def redistributed(batch: StepBatch, contribution: np.ndarray, env_reward: np.ndarray) -> np.ndarray:
    """c_t + (R - sum_k c_k) / T within each trajectory: contributions that sum to its environment return."""
    _, inverse, counts = np.unique(np.asarray(batch.traj_id), return_inverse=True, return_counts=True)
    residual = np.bincount(inverse, weights=env_reward - contribution)  # (n_traj,) R - sum c
    return contribution + residual[inverse] / counts[inverse]


@SHAPERS.register("progress")
def progress_reward(batch: StepBatch, alpha: float = 1.0, beta: float = 0.5, grounding: str = "mean",
                    redistribute: bool = True) -> StepBatch:
    if "progress" not in batch.extras:
        raise KeyError("the progress shaper needs a 'progress' column (c_t per step); the trainer adds it when "
                       "'progress' is in shapers (see TrainConfig.progress_estimator)")
    contribution = np.asarray(batch.extras["progress"], dtype=np.float64)
    env_reward = np.asarray(batch.extras.get("env_reward", batch.reward), dtype=np.float64)
    if redistribute:
        contribution = redistributed(batch, contribution, env_reward)
    return batch.with_reward(batch.reward - env_reward + alpha * contribution + beta * grounding_term(batch, grounding))


progress_reward.requires = ("progress",)  # columns the trainer must provide before this shaper runs
