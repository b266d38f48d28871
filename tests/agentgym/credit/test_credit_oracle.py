"""Oracle credit: the expert's value change per step, by hand; its columns from real FrozenLake rollouts (the
advantages telescope to the episode's value change); the trainer feature end to end; the refusals."""

import gymnasium
import numpy as np
import pytest

from agentgym import StepBatch, credit
from agentgym.core.types import Step, Trajectory
from agentgym.credit.oracle import oracle_columns


def _traj(traj_id, left, success=False, truncated=False):
    traj = Trajectory(group_id=0, traj_id=traj_id, task_id="t", success=success)
    for t, steps_left in enumerate(left):
        last = t == len(left) - 1
        traj.steps.append(Step(group_id=0, traj_id=traj_id, t=t, prompt=[], response="", action="a",
                               reward=float(success and last), state_key=f"s{steps_left}",
                               terminated=last and not truncated, truncated=last and truncated,
                               info={"expert_steps_left": steps_left}))
    return traj


# success along the plan; a detour then a hole; a step-limit cut after a wasted step
TRAJS = [_traj(0, [3, 2, 1], success=True), _traj(1, [3, 4]), _traj(2, [2, 2], truncated=True)]


def _batch(trajs):
    before, after = oracle_columns(trajs)
    return StepBatch.from_trajectories(trajs).with_extras(expert_steps_left=before, expert_steps_after=after)


def test_columns_and_value_changes_by_hand():
    before, after = oracle_columns(TRAJS)
    np.testing.assert_array_equal(before, [3, 2, 1, 3, 4, 2, 2])
    np.testing.assert_array_equal(after, [2, 1, 0, 4, np.inf, 2, np.nan])
    adv = credit.get("oracle")(_batch(TRAJS), gamma=0.9, norm="none")
    # V = 0.9 ** L: plan steps +0.081, +0.09, +0.1; the detour 0.6561 - 0.729; the hole -0.6561; the wasted step
    # 0; the cut step's next state was never seen: 0
    np.testing.assert_allclose(adv, [0.081, 0.09, 0.1, -0.0729, -0.6561, 0.0, 0.0], atol=1e-12)
    scaled = credit.get("oracle")(_batch(TRAJS), gamma=0.9)
    np.testing.assert_allclose(scaled, adv / (adv.std(ddof=1) + 1e-6))
    stats = credit.DIAGNOSTICS.get("oracle")(_batch(TRAJS), scaled, gamma=0.9)
    assert stats == pytest.approx({"credit/oracle_helpful_frac": 3 / 6, "credit/oracle_harmful_frac": 2 / 6,
                                   "credit/oracle_unknown_frac": 1 / 7})


def test_refusals():
    with pytest.raises(KeyError, match="expert_steps_after"):
        credit.get("oracle")(StepBatch.from_trajectories(TRAJS))
    with pytest.raises(ValueError, match="no expert planner"):
        oracle_columns([_traj(0, [None, None])])
    with pytest.raises(ValueError, match="gamma"):
        credit.get("oracle")(_batch(TRAJS), gamma=1.0)


def test_real_frozenlake_rollouts_telescope_to_the_value_change():
    from agentgym.core.policy import SamplingParams
    from agentgym.rollout.collect import collect
    from agentgym.rollout.episode import EpisodeSettings
    from agentgym.rollout.pool import make_pool
    from policies.scripted import NoisyExpertPolicy

    pool = make_pool("agentgym/FrozenLake-v1", "train", 24, max_steps=12, backend="thread")
    try:
        trajs, _ = collect(pool, NoisyExpertPolicy(0.4, seed=0), [{"seed": s} for s in range(6)], 4,
                           SamplingParams(), EpisodeSettings(), info_keys=("expert_steps_left",))
    finally:
        pool.close()
    adv = credit.get("oracle")(_batch(trajs), gamma=0.9, norm="none")
    start = 0
    outcomes = set()
    for traj in trajs:
        a = adv[start:start + len(traj)]
        start += len(traj)
        v0 = 0.9 ** traj.steps[0].info["expert_steps_left"]
        if traj.success:
            assert a.sum() == pytest.approx(1.0 - v0)
        elif not traj.truncated:  # fell into a hole: everything the start was worth is lost
            assert a.sum() == pytest.approx(-v0)
        outcomes.add((traj.success, traj.truncated))
    assert len(outcomes) >= 2  # the noisy expert both succeeds and fails


@pytest.mark.parametrize("estimator, diagnostic", [("oracle", "credit/oracle_helpful_frac"),
                                                   ("graphgpo", "credit/graph_reachable_frac")])
def test_trains_with_the_issue_43_estimators_a_shaper_and_a_modifier(micro_model, tmp_path, estimator, diagnostic):
    """--credit oracle / graphgpo from the command line, after the default invalid-action shaper, before EMPG."""
    from pathlib import Path

    from agentgym.train.loop import main
    from agentgym.util.metrics import read_metrics

    root = Path(__file__).resolve().parents[3]
    flags = {"config": str(root / "configs" / "smoke.yaml"), "model": micro_model, "run-dir": str(tmp_path),
             "credit": estimator, "modifiers": "empg", "shapers": "invalid_action", "iterations": "1",
             "max-new-tokens": "8", "max-steps": "6", "eval-every": "0", "summary-splits": "",
             "summary-baselines": ""}
    main([x for key, value in flags.items() for x in (f"--{key}", value)])
    row = read_metrics(tmp_path)[-1]
    assert 0.0 <= row[diagnostic] <= 1.0 and np.isfinite(row["credit/adv_mean"])
    assert 0.0 <= row["entropy/empg_amplified_frac"] <= 1.0  # EMPG ran on the estimator's advantages


class _NoExpert(gymnasium.Env):
    """An environment with no planner: its info has no expert_steps_left."""

    def __init__(self, split="train"):
        self.split = split

    def reset(self, seed=None, options=None):
        return "a room", {"state_key": "room"}


def test_an_environment_without_an_expert_is_refused():
    from agentgym.core.registry import register
    from agentgym.train.config import make_config
    from agentgym.train.features.oracle.feature import OracleCredit

    register("test-issue43/NoExpert-v0", entry_point=_NoExpert)
    with pytest.raises(ValueError, match="expert_steps_left"):
        OracleCredit.check_config(make_config(env="test-issue43/NoExpert-v0", credit="oracle"), None)
    OracleCredit.check_config(make_config(env="agentgym/FrozenLake-v1", credit="oracle"), None)
    OracleCredit.check_config(make_config(env="test-issue43/NoExpert-v0", credit="grpo"), None)  # not asked for
