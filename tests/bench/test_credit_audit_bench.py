"""bench/credit_audit.py: the AUC and the per-batch audit, by hand (the oracle is the ceiling; a signal that
ranks backwards scores below chance)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from agentgym.core.types import Step, Trajectory

BENCH = Path(__file__).resolve().parents[2] / "bench" / "credit_audit.py"
SPEC = importlib.util.spec_from_file_location("credit_audit", BENCH)
audit = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(audit)


def test_auc_counts_ordered_pairs_and_half_ties():
    positive = np.array([False, False, True, True])
    assert audit.auc(np.array([1.0, 2.0, 3.0, 4.0]), positive) == 1.0
    assert audit.auc(np.array([4.0, 3.0, 2.0, 1.0]), positive) == 0.0
    assert audit.auc(np.array([1.0, 2.0, 2.0, 3.0]), positive) == 0.875  # 3 pairs won, 1 tie
    assert np.isnan(audit.auc(np.array([1.0, 2.0]), np.array([True, True])))


def _traj(traj_id, states, left, success):
    traj = Trajectory(group_id=0, traj_id=traj_id, task_id="t", success=success)
    for t, (s, steps_left) in enumerate(zip(states, left)):
        last = t == len(states) - 1
        traj.steps.append(Step(group_id=0, traj_id=traj_id, t=t, prompt=[], response="", action="a",
                               reward=float(success and last), state_key=s, terminated=last,
                               info={"expert_steps_left": steps_left}))
    return traj


def test_one_batch_by_hand():
    # traj 0 walks the plan A(2) -> B(1) -> goal; traj 1 steps back to C(3), then into a hole
    batch = audit.step_batch([_traj(0, ["A", "B"], [2, 1], True), _traj(1, ["A", "C"], [2, 3], False)])
    result = audit.audit_batch(batch)
    assert result["_batch"]["matter"] == 1.0 and result["_batch"]["helpful"] == 0.5
    assert result["oracle"] == {"spearman": pytest.approx(1.0), "sign": 1.0, "auc": 1.0}
    # GRPO: +0.71 on both helpful steps, -0.71 on both harmful ones: a perfect split
    assert result["grpo"]["auc"] == 1.0 and result["grpo"]["sign"] == 1.0
    assert "gigpo + empg" not in result  # scripted steps have no entropy
