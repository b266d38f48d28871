"""Every registered environment, every split: the contract in docs/architecture.md, "Contracts"."""

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env

import agentgym

ENV_IDS = agentgym.list_envs("agentgym")
# ScienceWorld starts a JVM per environment and steps over a socket: minutes of play in these tests, so they
# run with -m slow; tests/environments/test_scienceworld.py runs check_env on it in the default suite
SLOW_TO_PLAY = {"agentgym/ScienceWorld-v0"}
PLAYED_IDS = [pytest.param(env_id, marks=pytest.mark.slow) if env_id in SLOW_TO_PLAY else env_id for env_id in ENV_IDS]


def _make_or_skip(env_id, split, via_gymnasium=False):
    try:
        if via_gymnasium:
            return gymnasium.make(env_id, split=split)
        return agentgym.make(env_id, split=split)
    except ModuleNotFoundError as exc:  # optional extra not installed
        pytest.skip(f"{env_id} needs the optional package {exc.name!r}")


@pytest.mark.parametrize("split", agentgym.SPLITS)
@pytest.mark.parametrize("env_id", PLAYED_IDS)
def test_env_contract(env_id, split):
    env = _make_or_skip(env_id, split)
    try:  # the full 1,000 adversarial strings on train; 200 on the held-out splits keeps CI short
        agentgym.check_env(env, n_random_actions=1000 if split == "train" else 200)
    finally:
        env.close()


@pytest.mark.parametrize("env_id", PLAYED_IDS)
def test_gymnasium_make_and_checker(env_id):
    env = _make_or_skip(env_id, "train", via_gymnasium=True)
    try:
        gymnasium_check_env(env.unwrapped, skip_render_check=True)
    finally:
        env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_splits_are_disjoint(env_id):
    ids = {}
    for split in agentgym.SPLITS:
        env = _make_or_skip(env_id, split)
        ids[split] = set(env.unwrapped.task_ids())
        assert ids[split], f"{env_id} has no {split} tasks"
        env.close()
    assert not ids["train"] & ids["valid_seen"]
    assert not ids["train"] & ids["valid_unseen"]
    assert not ids["valid_seen"] & ids["valid_unseen"]


@pytest.mark.parametrize("env_id", PLAYED_IDS)
def test_terminated_and_truncated_are_never_both_true(env_id):
    env = _make_or_skip(env_id, "train")
    try:
        env.reset(seed=3)
        for _ in range(env.unwrapped.max_steps + 2):
            _, _, terminated, truncated, _ = env.step("wait")
            assert not (terminated and truncated)
            if terminated or truncated:
                break
        assert truncated or terminated, "the step limit must end an episode of useless actions"
    finally:
        env.close()
