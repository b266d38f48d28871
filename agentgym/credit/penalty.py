"""Step penalties: amounts charged to one step sample only, after discounting (verl-agent's invalid-action rule).

A shaper that writes the ``step_penalty`` extra column (``invalid_action`` with ``mode="step"``) leaves the
reward column alone; each estimator that declares ``reads_step_penalty`` subtracts p_i from step i's own
scores: its episode score R(tau) - p_i and its discounted return R_t - p_i. Neither earlier steps nor the
rest of the trajectory pay. The trainer refuses the column for an estimator that does not read it, so a
penalty is never dropped in silence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from agentgym.core.types import StepBatch

COLUMN = "step_penalty"


def step_penalty(batch: StepBatch) -> np.ndarray:
    """p_i per batch row, shape (len(batch),); zeros when no shaper wrote the column."""
    if COLUMN not in batch.extras:
        return np.zeros(len(batch))
    penalty = np.asarray(batch.extras[COLUMN], dtype=np.float64)
    if np.isnan(penalty).any():
        raise ValueError(f"batch.extras[{COLUMN!r}] contains NaN")
    return penalty


def has_step_penalty(batch: StepBatch) -> bool:
    return COLUMN in batch.extras and bool(np.any(np.asarray(batch.extras[COLUMN], dtype=np.float64) != 0))


def reads_step_penalty(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark an estimator as one that subtracts ``step_penalty`` itself."""
    fn.reads_step_penalty = True  # type: ignore[attr-defined]
    return fn


def check_reads_step_penalty(name: str, fn: Callable[..., Any], batch: StepBatch) -> None:
    """Raise if the batch carries step penalties that estimator ``name`` would ignore."""
    if COLUMN in batch.extras and not getattr(fn, "reads_step_penalty", False):
        raise ValueError(f"credit estimator {name!r} does not read the {COLUMN!r} column that a shaper wrote "
                         "(invalid_action mode='step'); use one that does (grpo, rloo, gigpo, graphgpo, hgpo, reinforce_pp) "
                         "or the shaper's mode='reward'")


def require_step_stats(batch: StepBatch, episode_stats: str, estimator: str) -> None:
    """A per-step penalty needs per-step episode scores: refuse trajectory statistics with one present."""
    if episode_stats != "step" and has_step_penalty(batch):
        raise ValueError(f"{estimator}: step penalties (invalid_action mode='step', verl-agent's rule) change the "
                         "score of one step sample, which only episode_stats='step' defines; set "
                         "credit_params episode_stats: step, or use the shaper's mode='reward'")
