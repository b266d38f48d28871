"""Faults on every backend: an environment that raises, one that hangs, a worker that is killed.

Each comes back as an ``EnvFailure`` for exactly the environments it hit, the pool recovers (the
environment or worker is rebuilt) and ``collect`` drops the failed attempt and replays its task.
"""

import re
import time

import pytest

from agentgym.core.policy import SamplingParams
from agentgym.rollout.collect import collect
from agentgym.rollout.pool import EnvFailure, make_pool
from policies.scripted import ExpertPolicy

ENV = "agentgym/Synthetic-v0"
BACKENDS = ["thread", "process", "ray"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
    return request.param


def test_a_step_that_raises_fails_that_environment_only_and_it_is_rebuilt(backend):
    pool = make_pool(ENV, "train", 2, {"fail_rate": 1.0}, backend=backend, workers=2)
    try:
        assert all(isinstance(r, tuple) for r in pool.reset([0, 1], [{"seed": 1}, {"seed": 2}]))  # resets never fail
        [failure] = pool.step([0], ["amber"])
        assert isinstance(failure, EnvFailure) and failure.kind == "error"
        assert "RuntimeError: synthetic fault" in failure.message and "Traceback" in failure.traceback
        obs, info = pool.reset([0], [{"seed": 1}])[0]  # a fresh environment took its place
        assert obs.startswith("Room 1 of 5") and info["task_id"]
    finally:
        pool.close()


@pytest.mark.parametrize("concurrent", [True, False], ids=["thread-per-env", "one-thread"])
def test_a_hanging_step_times_out_and_the_rest_of_the_batch_comes_back(backend, concurrent, tmp_path):
    """With one thread per worker the steps after the hung one still run (on a fresh thread), and each
    step's timeout counts from its own start."""
    kwargs = {"hang_once_file": str(tmp_path / "hang"), "hang_s": 600, "concurrent_steps": concurrent,
              "step_sleep_s": 0.4}  # 2 x 0.4 s per worker in series: under the timeout per step, not in sum
    pool = make_pool(ENV, "train", 4, kwargs, backend=backend, workers=2, step_timeout_s=0.7 if not concurrent else 1.5)
    try:
        pool.reset(range(4), [{"seed": 1}] * 4)
        start = time.monotonic()
        results = pool.step(range(4), ["amber"] * 4)
        assert time.monotonic() - start < 8
        kinds = [r.kind if isinstance(r, EnvFailure) else "ok" for r in results]
        assert sorted(kinds) == ["ok", "ok", "ok", "timeout"]
        hung = kinds.index("timeout")
        assert isinstance(pool.reset([hung], [{"seed": 1}])[0], tuple)  # replaced, usable again
        assert pool.worker_restarts == 0  # the host timed the step out; its worker stayed up
    finally:
        pool.close()


@pytest.mark.parametrize("remote", ["process", "ray"])
def test_a_killed_worker_fails_its_environments_and_is_replaced(remote, tmp_path, request):
    if remote == "ray":
        request.getfixturevalue("ray_cluster")
    pool = make_pool(ENV, "train", 4, {"kill_once_file": str(tmp_path / "kill")}, backend=remote, workers=2)
    try:
        pool.reset(range(4), [{"seed": 1}] * 4)
        pids = pool.worker_pids()
        results = pool.step([0], ["amber"])  # worker 0 (environments 0 and 2) kills itself
        assert isinstance(results[0], EnvFailure) and results[0].kind == "worker_died"
        assert pool.worker_restarts == 1 and pool.worker_pids()[0] != pids[0] and pool.worker_pids()[1] == pids[1]
        assert all(isinstance(r, tuple) for r in pool.reset(range(4), [{"seed": 1}] * 4))
        assert all(isinstance(r, tuple) for r in pool.step(range(4), ["amber"] * 4))
    finally:
        pool.close()


def test_collect_drops_failed_attempts_replays_their_task_and_counts_them(backend, tmp_path):
    log = tmp_path / "failed"
    # 32 episodes of 5 steps at fail_rate 0.1: P(no fault at all) = 0.9^160 < 1e-7 (faults are not seeded);
    # P(an episode lost after 20 retries) = (1 - 0.9^5)^21 < 1e-8
    pool = make_pool(ENV, "train", 32, {"fail_rate": 0.1, "failure_log": str(log)}, backend=backend, workers=2)
    try:
        trajectories, stats = collect(pool, ExpertPolicy(), [{"seed": s} for s in range(16)], 2, SamplingParams(),
                                      episode_retries=20)
    finally:
        pool.close()
    failed = set(log.read_text().split()) if log.exists() else set()
    assert stats.failed_attempts == stats.env_errors == len(failed) > 0
    assert stats.attempts == stats.episodes + stats.failed_attempts and stats.lost_episodes == 0
    assert sorted(t.traj_id for t in trajectories) == list(range(32)) and all(t.success for t in trajectories)
    seen = {re.search(r"\(episode (\w+)\)", s.prompt[1]["content"]).group(1) for t in trajectories for s in t.steps}
    assert not seen & failed  # no step of a failed attempt is in what collect returns
    assert stats.metrics()["rollout/infra_dropped_frac"] == pytest.approx(stats.failed_attempts / stats.attempts)


def test_an_episode_that_keeps_failing_is_lost_not_scored():
    pool = make_pool(ENV, "train", 4, {"fail_rate": 1.0}, backend="thread")
    try:
        trajectories, stats = collect(pool, ExpertPolicy(), [{"seed": 0}, {"seed": 1}], 2, SamplingParams(),
                                      episode_retries=1)
    finally:
        pool.close()
    assert trajectories == [] and stats.lost_episodes == 4 and stats.failed_attempts == 8
    assert stats.infra_dropped_frac == 1.0
