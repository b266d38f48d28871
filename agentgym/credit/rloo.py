"""RLOO: each trajectory's return minus the mean return of the other rollouts of its group.

A_i = R_i - (sum_j R_j - R_i) / (N - 1). No std normalisation (LOOP, arXiv 2502.01600, found it hurts).
``episode_stats="step"`` runs the leave-one-out over every step sample of the group, as verl-agent does,
with each sample's score R(tau) - p_i (see ``credit/penalty.py``). A sample alone in its group has no
baseline: ``lone="zero"`` (default) gives it 0, ``lone="raw"`` its raw score, as verl's RLOO does.
"""

from __future__ import annotations

import numpy as np

from agentgym.core.types import StepBatch
from agentgym.credit.groups import TrajectoryLayout, check_choice, episode_scores, per_row
from agentgym.credit.penalty import reads_step_penalty
from agentgym.credit.registry import ESTIMATORS

LONE = ("zero", "raw")


@ESTIMATORS.register("rloo")
@reads_step_penalty
def rloo(batch: StepBatch, episode_stats: str = "trajectory", lone: str = "zero") -> np.ndarray:
    """Leave-one-out baseline advantage, one value per step, shape (len(batch),)."""
    check_choice("lone", lone, LONE)
    layout = TrajectoryLayout.of(batch)
    scores, groups = episode_scores(batch, layout, episode_stats, "rloo")
    counts = np.bincount(groups)[groups]  # samples in my group
    totals = np.bincount(groups, weights=scores)[groups]
    others_mean = (totals - scores) / np.maximum(counts - 1, 1)
    adv = np.where(counts > 1, scores - others_mean, 0.0 if lone == "zero" else scores)
    return per_row(adv, layout, episode_stats)
