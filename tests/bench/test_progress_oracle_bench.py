"""bench/progress_oracle.py's summary helpers, worked by hand."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from agentgym.core.types import Step, Trajectory

BENCH = Path(__file__).resolve().parents[2] / "bench" / "progress_oracle.py"
SPEC = importlib.util.spec_from_file_location("progress_oracle_bench", BENCH)
bench = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bench)


def test_seed_interval_is_the_t_interval_of_the_mean():
    mean, low, high = bench.seed_interval([1.0, 2.0, 3.0])
    # sd 1, n 3: t(0.975, 2) = 4.3027, half width 4.3027 / sqrt(3) = 2.4841
    assert mean == 2.0 and low == pytest.approx(2.0 - 2.4841, abs=1e-4) and high == pytest.approx(4.4841, abs=1e-4)
    assert bench.seed_interval([0.5]) == (0.5, 0.5, 0.5)


def _traj(steps_left, success):
    steps = [Step(group_id=0, traj_id=0, t=t, prompt=[], response="", action="", reward=0.0, state_key=str(t),
                  info={"expert_steps_left": left}) for t, left in enumerate(steps_left)]
    return Trajectory(group_id=0, traj_id=0, task_id="x", steps=steps, success=success)


def test_step_count_baseline_ranks_steps_by_their_index():
    # oracle progress .25, 0, .5, 1 against t + 1 = 1, 2, 3, 4: ranks (2, 1, 3, 4) vs (1, 2, 3, 4), rho = 0.8
    assert bench.step_count_baseline([_traj([4, 3, 4, 2], success=True)]) == pytest.approx(0.8)
    assert np.isnan(bench.step_count_baseline([_traj([None, None], success=True)]))
