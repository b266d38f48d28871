"""Turn-level GAE for PPO with a critic: one value, one TD error and one advantage per environment step.

delta_t = r_t + gamma * V_{t+1} - V_t and A_t = delta_t + gamma * lam * A_{t+1}, where V_t =
``batch.extras["value"]`` is the critic's value of the state the step's action was taken from.

End of a trajectory: the value after its last step is 0. That is exact for a terminated episode. A
truncated one (max steps) is also cut at 0 by default, the usual choice in multi-turn agent RL (the
state after the cut is never shown to the critic); a trainer that scores it can pass
``extras["bootstrap_value"]`` (per row, read on each trajectory's last step only; NaN counts as 0) to
bootstrap instead. Advantages are not whitened unless ``whiten=True`` (verl whitens; value targets
always come from the raw advantages, see ``gae_value_targets``).
"""

from __future__ import annotations

import numpy as np

from agentgym.core.types import StepBatch
from agentgym.credit.groups import TrajectoryLayout
from agentgym.credit.registry import ESTIMATORS


def _values(batch: StepBatch) -> np.ndarray:
    if "value" not in batch.extras:
        raise KeyError("gae needs critic values: put V(state before step t) in batch.extras['value'] "
                       f"(extras present: {sorted(batch.extras) or 'none'})")
    values = np.asarray(batch.extras["value"], dtype=np.float64)
    if np.isnan(values).any():
        raise ValueError("batch.extras['value'] contains NaN")
    return values


def _raw_gae(batch: StepBatch, gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """(advantages, values), both in batch row order, shape (len(batch),)."""
    values = _values(batch)
    layout = TrajectoryLayout.of(batch)
    next_value = np.zeros(len(batch))
    sorted_values = values[layout.order]
    not_last = layout.to_end > 0
    next_sorted = np.zeros(len(batch))
    next_sorted[not_last] = sorted_values[np.flatnonzero(not_last) + 1]
    if "bootstrap_value" in batch.extras:
        bootstrap = np.nan_to_num(np.asarray(batch.extras["bootstrap_value"], dtype=np.float64)[layout.order])
        next_sorted[~not_last] = bootstrap[~not_last]
    next_value[layout.order] = next_sorted
    deltas = batch.reward + gamma * next_value - values
    return layout.backward_scan(deltas, gamma * lam), values


@ESTIMATORS.register("gae")
def gae(batch: StepBatch, gamma: float = 1.0, lam: float = 1.0, whiten: bool = False,
        eps: float = 1e-8) -> np.ndarray:
    """GAE(gamma, lam) advantage per step, shape (len(batch),); ``whiten`` rescales to mean 0, std 1."""
    adv, _ = _raw_gae(batch, gamma, lam)
    if whiten and len(adv) > 1:
        adv = (adv - adv.mean()) / (adv.std(ddof=1) + eps)
    return adv


def gae_value_targets(batch: StepBatch, gamma: float = 1.0, lam: float = 1.0) -> np.ndarray:
    """Critic regression targets (lambda-returns) = raw GAE advantage + V, shape (len(batch),)."""
    adv, values = _raw_gae(batch, gamma, lam)
    return adv + values
