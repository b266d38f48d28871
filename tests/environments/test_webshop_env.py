"""The WebShop text environment: contract, expert, random baseline, splits, state keys."""

import random

import pytest

import agentgym
from environments.webshop.data import ShopConfig, shared_shop
from environments.webshop.goals import make_goal, split_targets
from environments.webshop.vocab import UNSEEN_CATEGORIES

ENV_ID = "agentgym/WebShop-v0"
SMALL = {"num_products": 2000}  # a test-size catalogue; the default is 20,000


def play_expert(env, task_id):
    obs, info = env.reset(options={"task_id": task_id})
    steps_left = info["expert_steps_left"]
    for taken in range(1, 30):
        obs, reward, terminated, truncated, info = env.step(info["expert_action"])
        if terminated or truncated:
            return info, taken, steps_left, reward
    raise AssertionError(f"expert did not finish {task_id}")


@pytest.mark.parametrize("split", ["train", "valid_seen", "valid_unseen"])
def test_check_env_on_every_split(split):
    env = agentgym.make(ENV_ID, split=split, **SMALL)
    try:
        agentgym.check_env(env, n_random_actions=300 if split == "train" else 60)
    finally:
        env.close()


def test_expert_scores_one_on_200_goals_of_the_default_catalogue():
    """Issue 8 'done when': the expert reaches reward 1 on every goal of a 200-goal sample."""
    failures, lengths = [], []
    for split, count in (("train", 120), ("valid_seen", 40), ("valid_unseen", 40)):
        env = agentgym.make(ENV_ID, split=split)
        try:
            rng = random.Random(split)
            for task_id in rng.sample(list(env.unwrapped.task_ids()), count):
                info, taken, predicted, reward = play_expert(env, task_id)
                lengths.append(taken)
                if not (info["success"] and reward == 1.0 and info["score"] == 1.0 and taken == predicted):
                    failures.append((task_id, info["score"], taken, predicted, info["task"]))
        finally:
            env.close()
    assert not failures, failures[:5]
    assert len(lengths) == 200 and min(lengths) >= 3  # search, click the product, buy (+ options)


def test_random_clicking_rarely_succeeds():
    env = agentgym.make(ENV_ID, **SMALL)
    rng = random.Random(0)
    successes, scores = 0, []
    try:
        for episode in range(60):
            _, info = env.reset(seed=episode)
            done = False
            while not done:
                admissible = info["admissible_actions"]
                action = f"search[{info['task']}]" if admissible == ["search[<your query>]"] else rng.choice(admissible)
                _, _, terminated, truncated, info = env.step(action)
                done = terminated or truncated
            successes += info["success"]
            scores.append(info["score"])
    finally:
        env.close()
    assert successes / 60 < 0.15
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_observation_uses_webshop_markers_and_keys_name_pages():
    env = agentgym.make(ENV_ID, **SMALL)
    try:
        obs, info = env.reset(seed=3)
        assert obs.splitlines()[-1] == "[Search]" and info["state_key"] == "index"
        assert info["admissible_actions"] == ["search[<your query>]"]
        obs, _, _, _, info = env.step("search[Navy  Polo shirt]")
        assert "[button] Back to Search [button_]" in obs and "[button] Next > [button_]" in obs
        assert info["state_key"] == "search?q=navy+polo+shirt&page=1"
        asin = next(a for a in info["admissible_actions"] if a.startswith("click[B0"))
        obs, _, _, _, info = env.step(asin.lower())  # clicks are case-insensitive
        assert info["state_key"].startswith(f"item/{asin[6:-1]}?q=navy+polo+shirt&page=1")
        option = next(a for a in info["admissible_actions"] if a not in (
            "click[Back to Search]", "click[< Prev]", "click[Description]", "click[Features]", "click[Reviews]",
            "click[Buy Now]"))
        obs, _, _, _, info = env.step(option)
        assert f"[clicked button] {option[6:-1]} [clicked button_]" in obs and "&o=" in info["state_key"]
        obs, _, _, _, info = env.step("search[shoes]")
        assert info["action_valid"] is False and "no search box" in obs
    finally:
        env.close()


def test_same_page_same_state_key_across_sessions():
    a, b = agentgym.make(ENV_ID, **SMALL), agentgym.make(ENV_ID, **SMALL)
    try:
        keys = []
        for env in (a, b):
            _, info = env.reset(seed=11)
            path = []
            for _ in range(3):
                _, _, _, _, info = env.step(info["expert_action"])
                path.append(info["state_key"])
            keys.append(path)
        assert a.unwrapped.session_id != b.unwrapped.session_id
        assert keys[0] == keys[1]
    finally:
        a.close()
        b.close()


def test_splits_are_disjoint_and_unseen_holds_out_categories():
    config = ShopConfig(num_products=2000)
    products = shared_shop(config).data.products
    targets = split_targets(products)
    assert not set(targets["train"]) & set(targets["valid_seen"])
    goals = {s: [make_goal(products, targets, f"{s}-{i}", 0) for i in range(150)]
             for s in ("train", "valid_seen", "valid_unseen")}
    assert {g["category"] for g in goals["valid_unseen"]} <= set(UNSEEN_CATEGORIES)
    assert not {g["category"] for g in goals["train"] + goals["valid_seen"]} & set(UNSEEN_CATEGORIES)
    texts = {s: {g["instruction_text"] for g in gs} for s, gs in goals.items()}
    assert not texts["train"] & texts["valid_seen"]
    assert make_goal(products, targets, "train-7", 0) == make_goal(products, targets, "train-7", 0)


def test_task_ids_are_cheap_and_unknown_tasks_rejected():
    env = agentgym.make(ENV_ID, split="valid_seen")
    try:
        assert len(env.unwrapped.task_ids()) == 500 and env.unwrapped._client is None  # nothing loaded yet
        with pytest.raises(ValueError):
            env.reset(options={"task_id": "train-0"})
    finally:
        env.close()


def test_plays_inside_a_running_event_loop():
    """Jupyter and async programs call the synchronous API from inside a running loop; the in-process shop
    once raised "Cannot run the event loop while another loop is running" there."""
    import asyncio

    async def play():
        env = agentgym.make(ENV_ID, split="valid_seen", **SMALL)
        try:
            return play_expert(env, env.unwrapped.task_ids()[0])
        finally:
            env.close()

    info, _, _, reward = asyncio.run(play())
    assert reward == 1.0 and info["success"]
