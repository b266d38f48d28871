"""Hostile input on every registered environment: nothing raises, no step hangs, memory does not grow.

The slow test plays 10,000 adversarial actions per environment (``agentgym.core.checker.adversarial_actions``:
empty, 1 MB strings, NUL and control bytes, lone surrogates, other scripts, JSON/XML/tool-call fragments,
numbers of thousands of digits, path traversal, SQL, non-string values, and splices of them), resetting
whenever an episode ends. The default suite runs a hypothesis-generated version on the cheap environments.
"""

import time

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agentgym
from agentgym.core.checker import adversarial_actions, hostile_actions

ENV_IDS = agentgym.list_envs("agentgym")
CHEAP = ["agentgym/FrozenLake-v0", "agentgym/SQL-v0", "agentgym/SearchQA-v0", "agentgym/PythonTool-v0",
         "agentgym/Synthetic-v0", "agentgym/Sokoban-v0"]
MAX_STEP_S = 10.0
MAX_RSS_GROWTH = 50 * 2**20


def _make(env_id):
    try:
        return agentgym.make(env_id, split="train", num_tasks=4) if env_id not in ("agentgym/Synthetic-v0",
                                                                                 "agentgym/TextWorld-v0") \
            else agentgym.make(env_id, split="train")
    except ModuleNotFoundError as exc:
        pytest.skip(f"{env_id} needs the optional package {exc.name!r}")


def _play(env, actions):
    """(slowest step in seconds, the observations' types); raises whatever a step raises."""
    env.reset(seed=0)
    slowest, kinds = 0.0, set()
    for action in actions:
        start = time.perf_counter()
        obs, _, terminated, truncated, info = env.step(action)
        slowest = max(slowest, time.perf_counter() - start)
        kinds.add(type(obs))
        assert isinstance(info["state_key"], str) and info["state_key"]
        if terminated or truncated:
            env.reset(seed=0)
    return slowest, kinds


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_ten_thousand_hostile_actions(env_id):
    env = _make(env_id)
    try:
        actions = adversarial_actions(10_000, seed=1)
        _play(env, actions[:300])  # warm-up: lazily built games, caches and indexes are not growth
        rss = psutil.Process().memory_info().rss
        slowest, kinds = _play(env, actions)
        growth = psutil.Process().memory_info().rss - rss
    finally:
        env.close()
    assert kinds == {str}
    assert slowest < MAX_STEP_S, f"{env_id}: a step took {slowest:.1f} s"
    assert growth < MAX_RSS_GROWTH, f"{env_id}: RSS grew {growth / 2**20:.0f} MB over 10,000 actions"


ACTIONS = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=()), max_size=50),
    st.binary(max_size=100),
    st.integers(), st.floats(allow_nan=True), st.none(), st.booleans(),
    st.lists(st.text(max_size=10), max_size=3),
    st.sampled_from([a for a in hostile_actions() if not isinstance(a, str) or len(a) < 20_000]),
    st.builds(lambda name, value: f'<tool_call>{{"name": "{name}", "arguments": {{"answer": {value}}}}}</tool_call>',
              st.sampled_from(["submit_answer", "run_sql", "search", "run_python", "x"]),
              st.one_of(st.integers(), st.text(max_size=20).map(repr), st.just("9" * 4400))),
    st.builds(lambda inner: f"<action>{inner}</action>", st.text(max_size=80)),
)


@pytest.fixture(scope="module")
def cheap_envs():
    envs = {env_id: _make(env_id) for env_id in CHEAP}
    for env in envs.values():
        env.reset(seed=0)
    yield envs
    for env in envs.values():
        env.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(ACTIONS, min_size=1, max_size=5))
def test_generated_hostile_actions_never_raise(cheap_envs, actions):
    for env in cheap_envs.values():
        for action in actions:
            obs, _, terminated, truncated, info = env.step(action)
            assert isinstance(obs, str) and isinstance(info["state_key"], str)
            if terminated or truncated:
                env.reset(seed=0)
