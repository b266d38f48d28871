"""Penalise responses that carried no usable action, in reward units (default 0.1)."""

from __future__ import annotations

from agentgym.credit.registry import SHAPERS
from agentgym.types import StepBatch


@SHAPERS.register("invalid_action")
def invalid_action_penalty(batch: StepBatch, penalty: float = 0.1, on: str = "format") -> StepBatch:
    """Subtract ``penalty`` from the reward of every invalid step.

    ``on="format"``: the response had no parsable ``<action>...</action>`` (as verl-agent);
    ``on="any"``: also actions the environment refused (``action_valid`` False).
    """
    if on not in ("format", "any"):
        raise ValueError(f"on must be 'format' or 'any', got {on!r}")
    invalid = ~batch.flag("format_valid")
    if on == "any":
        invalid |= ~batch.flag("action_valid")
    return batch.with_reward(batch.reward - penalty * invalid)

