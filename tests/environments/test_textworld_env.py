"""TextWorld environments on a few real generated games (cached under agentgym's cache dir)."""

import gymnasium
import pytest

import agentgym
from agentgym.core.env import INFO_KEYS

pytest.importorskip("textworld")

TASK = "custom-rooms3+objects6+quest4-0"


@pytest.fixture(scope="module")
def env():
    env = agentgym.make("agentgym/TextWorld-Custom-v0", num_tasks=2)
    yield env
    env.close()


def play_expert(env, **reset_kwargs):
    obs, info = env.reset(**reset_kwargs)
    infos, rewards = [info], []
    while True:
        obs, reward, terminated, truncated, info = env.step(infos[-1]["expert_action"])
        infos.append(info)
        rewards.append(reward)
        if terminated or truncated:
            return obs, infos, rewards, terminated, truncated


def test_expert_wins_with_full_score_and_counts_down(env):
    obs, infos, rewards, terminated, truncated = play_expert(env, options={"task_id": TASK})
    assert terminated and not truncated
    assert infos[-1]["success"] and infos[-1]["score"] == 1.0
    assert sum(rewards) == pytest.approx(1.0) and min(rewards) >= 0.0
    steps = [i["expert_steps_left"] for i in infos]
    assert steps == list(range(steps[0], -1, -1)) and steps[0] == 4  # a quest of 4 actions, replanned each step
    assert infos[-1]["expert_action"] is None
    assert all(set(INFO_KEYS) <= set(i) for i in infos)
    assert infos[0]["task_type"] == "custom/rooms3+objects6+quest4" and infos[0]["task_id"] == TASK
    assert infos[0]["state_key"] == "score 0 | initial"
    assert "*** The End ***" in obs and "RESTART" not in obs


def test_admissible_actions_come_from_textworld(env):
    _, info = env.reset(options={"task_id": TASK})
    admissible = info["admissible_actions"]
    assert info["expert_action"] in admissible and "look" in admissible and "inventory" in admissible
    assert admissible == sorted(admissible)


def test_state_key_depends_on_facts_not_on_text(env):
    _, info = env.reset(options={"task_id": TASK})
    start = info["state_key"]
    for action in ("look", "inventory", "xyzzy", "restart", "examine the moon"):
        _, _, _, _, info = env.step(action)
        assert info["state_key"] == start, action
    _, _, _, _, info = env.step(info["expert_action"])
    assert info["state_key"] != start and info["state_key"].startswith("score ")


def test_refused_and_unknown_commands_are_invalid_and_harmless(env):
    _, info = env.reset(options={"task_id": TASK})
    plan = info["expert_steps_left"]
    for action in ("restart", "quit", "tw-trace-actions", "xyzzy", "", "take knife. go north", "ü" * 30):
        obs, reward, terminated, truncated, info = env.step(action)
        assert not info["action_valid"] and reward == 0.0 and not terminated and isinstance(obs, str)
    _, _, _, _, info = env.step("look")
    assert info["action_valid"] and info["expert_steps_left"] == plan
    while not info["success"]:
        _, _, terminated, _, info = env.step(info["expert_action"])
    assert terminated


def test_same_seed_same_game_and_different_seeds_differ(env):
    obs_a, info_a = env.reset(seed=3)
    obs_b, info_b = env.reset(seed=3)
    assert (obs_a, info_a["task_id"]) == (obs_b, info_b["task_id"])
    assert info_a["task_id"] in env.unwrapped.task_ids()


def test_step_limit_truncates():
    env = agentgym.make("agentgym/TextWorld-Custom-v0", num_tasks=1, max_steps=3)
    env.reset(seed=0)
    results = [env.step("look")[2:4] for _ in range(3)]
    assert results == [(False, False), (False, False), (False, True)]
    env.close()


def test_free_form_hides_admissible_actions_but_keeps_the_expert():
    env = agentgym.make("agentgym/TextWorld-Custom-v0", num_tasks=1, free_form=True)
    _, info = env.reset(seed=0)
    assert info["admissible_actions"] is None and info["expert_action"]
    assert env.unwrapped.has_admissible_actions is False
    _, _, _, _, info = env.step(info["expert_action"])
    assert info["action_valid"] and info["admissible_actions"] is None
    env.close()


def test_success_reward_mode_pays_only_the_win():
    env = agentgym.make("agentgym/TextWorld-Custom-v0", num_tasks=1, reward="success")
    _, infos, rewards, terminated, _ = play_expert(env, seed=0)
    assert rewards[-1] == 1.0 and sum(rewards) == 1.0 and terminated
    env.close()


def test_contract_checks_pass_on_a_small_split():
    env = agentgym.make("agentgym/TextWorld-Custom-v0", num_tasks=2)
    agentgym.check_env(env, seeds=(0, 1), n_random_actions=120)
    env.close()


def test_gymnasium_make_works_once_agentgym_is_imported():
    env = gymnasium.make("agentgym/TextWorld-Custom-v0", num_tasks=1)
    obs, info = env.reset(seed=0)
    assert isinstance(obs, str) and info["task_id"] == "custom-rooms3+objects6+quest4-0"
    env.close()


def test_threaded_pool_loads_different_games_at_once():
    """Environments reset on threads of their own (a user's threads; pool workers step these on one
    thread); textworld's game parser is not thread-safe (loading several games at once crashed in
    tatsu before TEXTWORLD_LOCK)."""
    from concurrent.futures import ThreadPoolExecutor

    envs = [agentgym.make("agentgym/TextWorld-Custom-v0", split="train", num_tasks=4) for _ in range(4)]
    try:
        ids = list(envs[0].unwrapped.task_ids())
        with ThreadPoolExecutor(4) as threads:
            for shift in range(3):  # every round loads a different game into every environment
                order = ids[shift:] + ids[:shift]
                results = list(threads.map(lambda e, t: e.reset(options={"task_id": t}), envs, order))
                assert [info["task_id"] for _, info in results] == order
                stepped = list(threads.map(lambda e, r: e.step(r[1]["expert_action"]), envs, results))
                assert all(info["action_valid"] for *_, info in stepped)
    finally:
        for env in envs:
            env.close()


def test_games_the_planner_cannot_win_are_regenerated(tmp_path, monkeypatch):
    """Seed 2000011 of this Custom setting names a 'chest' and a 'fresh laundry scented chest': Inform 7
    asks "Which do you mean" forever, so generation must reject it and keep the next derived seed."""
    from environments.textworld import generation

    monkeypatch.setenv("AGENTGYM_CACHE", str(tmp_path))
    verdicts = []
    real = generation._planner_wins
    monkeypatch.setattr(generation, "_planner_wins", lambda path: verdicts.append(real(path)) or verdicts[-1])
    spec = generation.GameSpec("custom", {"rooms": 6, "objects": 12, "quest": 8}, 2_000_011)
    path = generation.game_path(spec)
    assert verdicts == [False, True]
    env = agentgym.make("agentgym/TextWorld-v0", game_files=[str(path)])
    _, infos, _, terminated, truncated = play_expert(env)
    assert terminated and not truncated and infos[-1]["success"] and infos[-1]["score"] == 1.0
    env.close()
