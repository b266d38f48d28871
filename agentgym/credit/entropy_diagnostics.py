"""Per-iteration entropy diagnostics: how uncertain the policy's steps are and what EMPG did to them.

Not an estimator diagnostic (those take one advantage array): this one compares the advantages
before and after the modifiers, so the trainer calls it directly every iteration.
"""

from __future__ import annotations

import numpy as np

from agentgym.core.types import StepBatch

KEYS = ("entropy/step_mean", "entropy/step_std", "entropy/success_mean", "entropy/failure_mean",
        "entropy/empg_amplified_frac", "entropy/empg_damped_frac", "entropy/missing_frac")


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")


def _success_flags(batch: StepBatch) -> np.ndarray | None:
    """Per-step success of the step's trajectory as floats (NaN where unknown), or None if absent."""
    if "traj_success" not in batch.extras:
        return None
    raw = batch.extras["traj_success"]
    return np.array([float("nan") if v is None else float(bool(v)) for v in raw], dtype=np.float64)


def entropy_diagnostics(batch: StepBatch, adv_before: np.ndarray, adv_after: np.ndarray,
                        rtol: float = 1e-9, atol: float = 1e-12) -> dict[str, float]:
    """Entropy statistics over the steps with a known entropy, and the share of steps EMPG reweighted.

    entropy/step_std is the population std (ddof=0, a spread, not an estimate). success_mean and
    failure_mean need ``batch.extras["traj_success"]`` (one flag per step: did its trajectory succeed);
    without it they are NaN. A step counts as amplified when |adv_after| > |adv_before| and as damped
    when |adv_after| < |adv_before| (equal within rtol/atol counts as neither): the net effect of the
    scale, the future bonus and the re-centring. With no modifier (after == before) both are 0.
    """
    before = np.asarray(adv_before, dtype=np.float64)
    after = np.asarray(adv_after, dtype=np.float64)
    if before.shape != (len(batch),) or after.shape != (len(batch),):
        raise ValueError(f"advantages have shapes {before.shape} and {after.shape}, expected ({len(batch)},)")
    if len(batch) == 0:
        return {key: float("nan") for key in KEYS}
    known = ~np.isnan(batch.entropy)
    entropy = batch.entropy[known]
    success = _success_flags(batch)
    if success is None:
        success_mean = failure_mean = float("nan")
    else:
        success_mean = _mean(batch.entropy[known & (success == 1.0)])
        failure_mean = _mean(batch.entropy[known & (success == 0.0)])
    size_before, size_after = np.abs(before), np.abs(after)
    changed = ~np.isclose(size_after, size_before, rtol=rtol, atol=atol)
    return {
        "entropy/step_mean": _mean(entropy),
        "entropy/step_std": float(entropy.std()) if len(entropy) else float("nan"),
        "entropy/success_mean": success_mean,
        "entropy/failure_mean": failure_mean,
        "entropy/empg_amplified_frac": float(np.mean(changed & (size_after > size_before))),
        "entropy/empg_damped_frac": float(np.mean(changed & (size_after < size_before))),
        "entropy/missing_frac": float(np.mean(~known)),
    }
