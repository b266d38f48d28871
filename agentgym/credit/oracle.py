"""Oracle credit (as in CAST, arXiv 2607.25308): a turn's advantage is the change it caused in an oracle's value
of the state. The ceiling every learned step signal is measured against (``bench/credit_audit.py``).

The oracle is the environment's expert planner: ``info["expert_steps_left"]`` = L(s), the length of the
shortest plan from s to the goal. Its value is that of the discounted goal reward under optimal play,

    V(s) = gamma ** L(s)      (1 at the goal, 0 where no plan exists: a hole, a lost game),

and step t's advantage is A_t = V(s_{t+1}) - V(s_t): positive for a step that brought the goal closer,
0 for one that changed nothing, negative for a detour, -V(s_t) for a step into a dead end.

Two columns carry L per batch row (``oracle_columns`` builds them from trajectories; the trainer's oracle
feature adds them with ``credit: oracle``): ``expert_steps_left`` = L(s_t) and ``expert_steps_after`` =
L(s_{t+1}) (the next step's L; after the last step 0 if the trajectory succeeded, inf if it ended in failure,
NaN if it was cut by the step limit, whose next state was not observed). inf means "no plan", NaN unknown;
a step with an unknown side gets 0. ``norm="batch_std"`` divides by the batch's standard deviation of A
(signs and ranks kept, scale comparable with GRPO's); ``"none"`` leaves the value change as it is.
"""

from __future__ import annotations

import numpy as np

from agentgym.core.types import StepBatch, Trajectory
from agentgym.credit.groups import TrajectoryLayout, check_choice
from agentgym.credit.registry import DIAGNOSTICS, ESTIMATORS

BEFORE, AFTER = "expert_steps_left", "expert_steps_after"
NORMS = ("batch_std", "none")


def _steps(value) -> float:
    return np.inf if value is None else float(value)


def oracle_columns(trajectories: list[Trajectory]) -> tuple[np.ndarray, np.ndarray]:
    """(L(s_t), L(s_{t+1})) for every step of ``trajectories`` in order; raises if no step reports L."""
    before, after = [], []
    for traj in trajectories:
        left = [s.info.get(BEFORE) for s in traj.steps]
        before += [_steps(v) for v in left]
        after += [_steps(v) for v in left[1:]]
        if traj.steps:
            last = traj.steps[-1]
            after.append(0.0 if traj.success else np.nan if last.truncated and not last.terminated else np.inf)
    before, after = np.asarray(before, dtype=np.float64), np.asarray(after, dtype=np.float64)
    if len(before) and np.isinf(before).all():
        raise ValueError(f"oracle credit needs info[{BEFORE!r}] (the expert's remaining plan length), and no step "
                         "reported it: this environment has no expert planner")
    return before, after


def oracle_values(batch: StepBatch, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """(V(s_t), V(s_{t+1})) per row; NaN where L is unknown."""
    for column in (BEFORE, AFTER):
        if column not in batch.extras:
            raise KeyError(f"credit=oracle needs batch.extras[{column!r}]: the trainer's oracle feature adds both "
                           f"{BEFORE!r} and {AFTER!r} with credit: oracle (agentgym.credit.oracle.oracle_columns "
                           f"builds them from trajectories); extras present: {sorted(batch.extras) or 'none'}")
    before = np.asarray(batch.extras[BEFORE], dtype=np.float64)
    after = np.asarray(batch.extras[AFTER], dtype=np.float64)
    if np.any(before < 0) or np.any(after < 0):
        raise ValueError("expert_steps_left must be >= 0")
    return gamma ** before, gamma ** after  # gamma ** inf = 0, NaN stays NaN


@ESTIMATORS.register("oracle")
def oracle(batch: StepBatch, gamma: float = 0.9, norm: str = "batch_std", eps: float = 1e-6) -> np.ndarray:
    """V(s_{t+1}) - V(s_t) of the expert's value, one per step, shape (len(batch),)."""
    check_choice("norm", norm, NORMS)
    if not 0.0 < gamma < 1.0:
        raise ValueError(f"gamma must be in (0, 1), got {gamma}")
    if len(batch) == 0:
        return np.zeros(0)
    TrajectoryLayout.of(batch)  # the batch's checks (a step twice, mixed group ids)
    here, there = oracle_values(batch, gamma)
    change = np.nan_to_num(there - here, nan=0.0)
    if norm == "batch_std" and len(change) > 1:
        change = change / (change.std(ddof=1) + eps)
    return change


@DIAGNOSTICS.register("oracle")
def oracle_diagnostics(batch: StepBatch, adv: np.ndarray, gamma: float = 0.9, norm: str = "batch_std",
                       eps: float = 1e-6) -> dict[str, float]:
    """Shares of steps that helped (A > 0), harmed (A < 0) and changed nothing, and the unknown ones (NaN L)."""
    if len(batch) == 0:
        return {}
    here, there = oracle_values(batch, gamma)
    change = there - here
    known = ~np.isnan(change)
    return {"credit/oracle_helpful_frac": float(np.mean(change[known] > 0)) if known.any() else 0.0,
            "credit/oracle_harmful_frac": float(np.mean(change[known] < 0)) if known.any() else 0.0,
            "credit/oracle_unknown_frac": float(np.mean(~known))}
