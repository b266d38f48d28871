"""Choosing a backend: the environment's own default, and clear errors for settings that cannot work."""

import pytest

from agentgym.eval.runner import EvalSettings
from agentgym.rollout.pool import default_backend, make_pool
from agentgym.rollout.pool.partition import split_by_worker, worker_sizes
from agentgym.rollout.pool.thread_pool import ThreadEnvPool
from agentgym.train.config import TrainConfig
from agentgym.train.setup import check_config


def test_engines_under_a_process_wide_lock_default_to_processes():
    assert default_backend("agentgym/FrozenLake-v0") == "thread"
    assert default_backend("agentgym/WebShop-v0") == "thread"
    assert default_backend("agentgym/TextWorld-Cooking-v0") == "process"
    assert default_backend("agentgym/ALFWorld-v0") == "process"
    pool = make_pool("agentgym/FrozenLake-v0", "train", 2)
    assert isinstance(pool, ThreadEnvPool) and len(pool) == 2
    pool.close()


def test_round_robin_partition():
    assert worker_sizes(5, 2) == [3, 2]
    assert split_by_worker([0, 3, 4], ["a", "b", "c"], 2) == {0: [(0, 0, "a"), (2, 2, "c")], 1: [(1, 1, "b")]}


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="pool"):
        make_pool("agentgym/FrozenLake-v0", "train", 2, backend="threads")
    with pytest.raises(ValueError, match="pool_workers"):
        check_config(TrainConfig(pool_workers=0))
    with pytest.raises(ValueError, match="max_infra_failure_frac"):
        check_config(TrainConfig(max_infra_failure_frac=0.0))
    with pytest.raises(ValueError, match="env_step_timeout_s"):
        EvalSettings(env="agentgym/FrozenLake-v0", env_step_timeout_s=-1)


def test_a_worker_that_cannot_build_its_environment_is_a_clear_error():
    with pytest.raises(RuntimeError, match="(?s)could not build 'agentgym/Synthetic-v0'.*length >= 1"):
        make_pool("agentgym/Synthetic-v0", "train", 2, {"length": 0}, backend="process", workers=1)
