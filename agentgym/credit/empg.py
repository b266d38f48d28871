"""EMPG: entropy-modulated policy gradients (arXiv 2509.09265; docs/architecture.md, "Credit definitions").

A modifier on top of any credit estimator. The gradient of a softmax policy is small on confident
steps and large on uncertain ones; EMPG reverses that. With H the step entropy (mean token entropy of
the step's response), min-max normalised over the batch:

    g = exp(-k H) / mean_batch(exp(-k H))     (mean 1: confident steps > 1, uncertain steps < 1)
    f = exp(-k' H_{t+1})                      (next step of the same trajectory; 0 at the last step)
    A' = g * A + zeta * f,   then A' minus its batch mean.

``k=0`` gives the bonus-only ablation, ``zeta=0`` the scaling-only one. Steps whose entropy is unknown
(NaN: an empty response) are left neutral: g = 1, and they give no bonus to the step before them.
"""

from __future__ import annotations

import numpy as np

from agentgym.core.types import StepBatch
from agentgym.credit.groups import TrajectoryLayout
from agentgym.credit.registry import MODIFIERS


def normalised_entropy(entropy: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """(H - min H) / (max H - min H + eps) over the known entries; NaN stays NaN."""
    entropy = np.asarray(entropy, dtype=np.float64)
    known = ~np.isnan(entropy)
    if not known.any():
        return entropy.copy()
    low, high = entropy[known].min(), entropy[known].max()
    return (entropy - low) / (high - low + eps)


def entropy_scale(h_norm: np.ndarray, k: float = 1.0) -> np.ndarray:
    """Self-calibrating scale g = exp(-k H) / mean(exp(-k H)); unknown entries get 1, so the batch mean is 1."""
    known = ~np.isnan(h_norm)
    scale = np.ones(len(h_norm))
    if known.any():
        raw = np.exp(-k * h_norm[known])
        scale[known] = raw / raw.mean()
    return scale


def future_bonus(batch: StepBatch, h_norm: np.ndarray, k_prime: float = 1.0) -> np.ndarray:
    """f = exp(-k' H_{t+1}) where step t+1 of the same trajectory exists with a known entropy, else 0.

    Rows may come in any order: the next step is found by sorting on (traj_id, t), and counts only if
    it really is t + 1 (a gap in t, e.g. a filtered step, gives no bonus).
    """
    layout = TrajectoryLayout.of(batch)  # also rejects duplicated (traj_id, t) rows
    order = layout.order
    bonus = np.zeros(len(batch))
    if len(order) < 2:
        return bonus
    here, after = order[:-1], order[1:]  # consecutive sorted positions
    is_next = (batch.traj_id[after] == batch.traj_id[here]) & (batch.t[after] == batch.t[here] + 1)
    is_next &= ~np.isnan(h_norm[after])
    bonus[here[is_next]] = np.exp(-k_prime * h_norm[after[is_next]])
    return bonus


@MODIFIERS.register("empg")
def empg(batch: StepBatch, adv: np.ndarray, k: float = 1.0, k_prime: float = 1.0, zeta: float = 0.05,
         eps: float = 1e-8) -> np.ndarray:
    """Entropy-modulated advantages, shape (len(batch),), zero batch mean.

    Raises if no step has a known entropy: the policy gave no token entropies, and silently
    re-centring the advantages would not be EMPG.
    """
    adv = np.asarray(adv, dtype=np.float64)
    if adv.shape != (len(batch),):
        raise ValueError(f"advantages have shape {adv.shape}, expected ({len(batch)},)")
    if len(batch) == 0:
        return adv.copy()
    if np.isnan(batch.entropy).all():
        raise ValueError("empg needs step entropies, but every step's entropy is NaN; use a policy that "
                         "returns per-token entropies")
    h_norm = normalised_entropy(batch.entropy, eps)  # (n,) in [0, 1], NaN where unknown
    modulated = entropy_scale(h_norm, k) * adv + zeta * future_bonus(batch, h_norm, k_prime)
    return modulated - modulated.mean()


empg.reads_entropy = True  # the trainer rescores another engine's samples for it (exact, full-vocabulary entropies)
