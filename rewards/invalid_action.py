"""Penalise responses that carried no usable action (default 0.1 per invalid step).

Two rules (docs/credit.md, "Invalid-action penalty"):

- ``mode="reward"`` (default): the penalty goes into the reward column at the invalid step. Every
  estimator sees it as environment reward: the trajectory's return R(tau) pays it (so every step of that
  trajectory does, at the episode level), and earlier steps pay a discounted share in R_t.
- ``mode="step"``: verl-agent's rule (``apply_invalid_action_penalty``). Only the invalid step's own
  sample pays: its episode score is R(tau) - c and its step return R_t - c, added after discounting. The
  penalty travels in the ``step_penalty`` column (``agentgym.credit.penalty``), which the estimators that
  implement the rule read (GiGPO, GRPO, RLOO and HGPO with ``episode_stats="step"``, REINFORCE++).
"""

from __future__ import annotations

import numpy as np

from agentgym.core.types import StepBatch
from agentgym.credit.penalty import COLUMN, step_penalty
from agentgym.credit.registry import SHAPERS

MODES = ("reward", "step")


@SHAPERS.register("invalid_action")
def invalid_action_penalty(batch: StepBatch, penalty: float = 0.1, on: str = "format",
                           mode: str = "reward") -> StepBatch:
    """Charge ``penalty`` to every invalid step, by ``mode``'s rule.

    ``on="format"``: the response had no parsable ``<action>...</action>`` (verl-agent's validity test);
    ``on="any"``: also actions the environment refused (``action_valid`` False).
    """
    if on not in ("format", "any"):
        raise ValueError(f"on must be 'format' or 'any', got {on!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    invalid = ~batch.flag("format_valid")
    if on == "any":
        invalid |= ~batch.flag("action_valid")
    charge = penalty * invalid.astype(np.float64)
    if mode == "reward":
        return batch.with_reward(batch.reward - charge)
    return batch.with_extras(**{COLUMN: step_penalty(batch) + charge})
