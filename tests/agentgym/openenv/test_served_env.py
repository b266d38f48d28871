"""OpenEnv's own client plays environments served by ``python -m agentgym.serve_env`` exactly as they play
in-process: expert policy, fixed seeds, every observation, reward, terminated/truncated flag and info."""

import pytest

pytest.importorskip("openenv")

from openenv.core.generic_client import GenericEnvClient  # noqa: E402

import agentgym  # noqa: E402
from agentgym.openenv.wire import json_safe  # noqa: E402


@pytest.fixture(scope="module")
def served(openenv_servers):
    """``served(env_id)`` -> the URL of a server of ``env_id``, started once for the module."""
    urls = {}

    def url(env_id):
        if env_id not in urls:
            urls[env_id], _ = openenv_servers.serve_env(env_id, "--split", "train")
        return urls[env_id]

    return url

SEEDS = (3, 8)
CASES = [  # (env id, split, the optional package it needs)
    ("agentgym/ALFWorld-v0", "valid_seen", "alfworld"),
    ("agentgym/TextWorld-CoinCollector-v0", "valid_unseen", "textworld"),
    pytest.param("agentgym/TextWorld-Cooking-v0", "train", "textworld", marks=pytest.mark.slow),
    ("agentgym/WebShop-v0", "valid_seen", None),
    ("agentgym/FrozenLake-v0", "valid_unseen", None),
]


def in_process(env_id, split, seed, max_steps):
    env = agentgym.make(env_id, split=split, max_steps=max_steps)
    obs, info = env.reset(seed=seed)
    rows = [(obs, None, False, False, json_safe(dict(info)))]
    done = False
    while not done:
        obs, reward, terminated, truncated, info = env.step(info["expert_action"])
        rows.append((obs, reward, terminated, truncated, json_safe(dict(info))))
        done = terminated or truncated
    env.close()
    return rows


def with_openenv_client(url, split, seed, max_steps):
    """Only OpenEnv's generic client and its wire format: no agentgym code on this side."""
    rows = []
    with GenericEnvClient(base_url=url).sync() as client:
        result = client.reset(seed=seed, split=split, max_steps=max_steps)
        while True:
            o = result.observation
            rows.append((o["text"], result.reward, o["terminated"], o["truncated"], o["info"]))
            assert result.done == (o["terminated"] or o["truncated"])
            if result.done:
                return rows
            result = client.step({"message": o["info"]["expert_action"]})


@pytest.mark.parametrize(("env_id", "split", "package"), CASES)
def test_openenv_client_plays_served_env_exactly_as_in_process(served, env_id, split, package):
    if package:
        pytest.importorskip(package)
    url = served(env_id)
    for seed in SEEDS:
        expected = in_process(env_id, split, seed, max_steps=30)
        assert expected[-1][4]["success"] and len(expected) > 2  # the expert solved it: a real episode
        assert with_openenv_client(url, split, seed, max_steps=30) == expected


def test_the_task_api_lists_the_splits_task_ids_and_resets_by_index(served):
    import httpx

    env_id = "agentgym/FrozenLake-v0"
    url = served(env_id)
    assert httpx.get(f"{url}/list_environments").json() == ["FrozenLake-v0"]
    assert [s["name"] for s in httpx.get(f"{url}/FrozenLake-v0/splits").json()] == list(agentgym.SPLITS)
    ids = agentgym.make(env_id, split="valid_seen").unwrapped.task_ids()
    tasks = httpx.post(f"{url}/FrozenLake-v0/tasks", json={"split": "valid_seen"}).json()["tasks"]
    assert [t["id"] for t in tasks] == list(ids) and tasks[5] == {"id": ids[5], "index": 5}
    assert httpx.post(f"{url}/FrozenLake-v0/task", json={"split": "valid_seen", "index": 10**6}).status_code == 400
    assert httpx.get(f"{url}/metadata").json()["name"] == env_id
    with GenericEnvClient(base_url=url).sync() as client:
        result = client.reset(split="valid_seen", index=5)
        assert result.observation["info"]["task_id"] == ids[5]
        state = client.state()
        assert (state["split"], state["task_id"], state["env_id"]) == ("valid_seen", ids[5], env_id)


def test_info_keys_choose_which_deferred_values_the_server_computes(served):
    """TextWorld's expert is a planner call; a client that does not read it does not pay for it."""
    pytest.importorskip("textworld")
    with GenericEnvClient(base_url=served("agentgym/TextWorld-CoinCollector-v0")).sync() as client:
        full = client.reset(seed=1).observation["info"]
        lean = client.reset(seed=1, info_keys=["expert_steps_left"]).observation["info"]
        assert full["expert_action"] and full["expert_steps_left"] >= 1
        assert lean["expert_action"] is None and lean["expert_steps_left"] == full["expert_steps_left"]
        step = client.step({"message": full["expert_action"], "metadata": {"info_keys": []}}).observation
        assert step["info"]["expert_action"] is None and step["info"]["state_key"]


def test_a_bad_environment_id_or_kwargs_fail_before_the_server_listens():
    import gymnasium

    from agentgym.serve_env import build_app

    with pytest.raises(gymnasium.error.UnregisteredEnv, match="Did you mean: agentgym/FrozenLake-v0"):
        build_app("agentgym/FrozenLak-v0")
    with pytest.raises(TypeError, match="colour"):
        build_app("agentgym/FrozenLake-v0", env_kwargs={"colour": "blue"})
