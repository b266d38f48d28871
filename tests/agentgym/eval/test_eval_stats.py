"""Evaluation statistics against hand-worked values."""

import math

import pytest

from agentgym.eval import stats


def _rec(task_id, seed, success, steps=2, invalid=0, task_type="a", score=None):
    return {"task_id": task_id, "seed": seed, "success": success, "score": float(success) if score is None else score,
            "num_steps": steps, "invalid_steps": invalid, "return": float(success), "truncated": False,
            "task_type": task_type}


def test_wilson_interval_matches_hand_computation():
    # 5/10: centre 0.5; half = 1.96 * sqrt(0.025 + 3.8415/400) / 1.38415 = 0.26341
    low, high = stats.wilson_interval(5, 10)
    assert low == pytest.approx(0.236593, abs=1e-5) and high == pytest.approx(0.763407, abs=1e-5)
    # all successes: the upper end is 1 and the lower end stays below 1 (20/20 -> 0.83887)
    low, high = stats.wilson_interval(20, 20)
    assert high == 1.0 and low == pytest.approx(0.838875, abs=1e-5)
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)


def test_pass_at_k_unbiased_estimator():
    assert stats.pass_at_k(4, 1, 2) == pytest.approx(0.5)  # 1 - C(3,2)/C(4,2) = 1 - 3/6
    assert stats.pass_at_k(4, 2, 1) == pytest.approx(0.5)
    assert stats.pass_at_k(4, 0, 3) == 0.0
    assert stats.pass_at_k(4, 3, 2) == 1.0  # fewer than k failures: some k-subset always succeeds
    with pytest.raises(ValueError):
        stats.pass_at_k(2, 1, 3)
    records = [_rec("t1", 0, True), _rec("t1", 1, False), _rec("t2", 0, False), _rec("t2", 1, False)]
    assert stats.mean_pass_at_k(records, 1) == pytest.approx(0.25)  # (0.5 + 0) / 2
    assert stats.mean_pass_at_k(records, 2) == pytest.approx(0.5)  # (1 + 0) / 2


def test_success_summary_seed_spread_and_breakdown():
    records = [_rec("t1", 0, True), _rec("t2", 0, True, task_type="b"),
               _rec("t1", 1, False, steps=4, invalid=2), _rec("t2", 1, True, task_type="b")]
    summary = stats.success_summary(records)
    assert summary["mean"] == 0.75 and summary["per_seed"] == {"0": 1.0, "1": 0.5}
    assert summary["std_over_seeds"] == pytest.approx(math.sqrt(0.125))  # sample std of (1, 0.5)
    assert summary["ci95"] == list(stats.wilson_interval(3, 4))
    basic = stats.episode_metrics(records)
    assert basic["steps"] == 2.5 and basic["invalid_action_rate"] == pytest.approx(2 / 10)
    types = stats.by_task_type(records)
    assert list(types) == ["a", "b"]
    assert types["a"]["success_rate"] == 0.5 and types["a"]["episodes"] == 2
    assert types["b"]["success_rate"] == 1.0 and types["b"]["invalid_action_rate"] == 0.0
    assert stats.sample_std([1.0]) is None


def test_paired_bootstrap_interval_hand_worked_cases():
    # every paired difference is 0.1: every resample's mean is 0.1
    assert stats.paired_bootstrap_interval([[0.1, 0.1], [0.1, 0.1], [0.1, 0.1]]) == pytest.approx((0.1, 0.1, 0.1))
    # one seed, tasks with differences 0 and 1: resampled means are 0, 0.5, 1 with chances 1/4, 1/2, 1/4,
    # so the 2.5% and 97.5% quantiles are 0 and 1
    assert stats.paired_bootstrap_interval([[0.0, 1.0]]) == pytest.approx((0.5, 0.0, 1.0))
    # seeds that disagree (one gains on every task, one on none): the seed level alone spreads the means to
    # 0, 0.5, 1 -- resampling only the tasks would have given the degenerate [0.5, 0.5]
    mean, low, high = stats.paired_bootstrap_interval([[1.0] * 4, [0.0] * 4])
    assert (mean, low, high) == pytest.approx((0.5, 0.0, 1.0))
    # deterministic for a given bootstrap seed
    table = [[0.0, 1.0, 0.0, -1.0, 1.0], [1.0, 1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, -1.0]]
    assert stats.paired_bootstrap_interval(table, seed=3) == stats.paired_bootstrap_interval(table, seed=3)
    with pytest.raises(ValueError, match="seeds x tasks"):
        stats.paired_bootstrap_interval([])
