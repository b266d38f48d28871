import numpy as np

import agentgym
from environments.toytext.frozenlake import FrozenLakeText, generate_map
from environments.toytext.grid import parse_direction, shortest_path


def test_parse_direction_accepts_phrasings_and_rejects_junk():
    assert parse_direction("Go North.") == "north"
    assert parse_direction("move left") == "west"
    assert parse_direction("north south") is None
    assert parse_direction("fly") is None


def test_shortest_path_on_hand_drawn_map():
    rows = ["SFF", "HHF", "GFF"]
    path = shortest_path((0, 0), (2, 0), lambda p: 0 <= p[0] < 3 and 0 <= p[1] < 3 and rows[p[0]][p[1]] != "H")
    assert path == ["east", "east", "south", "south", "west", "west"]


def test_generated_maps_are_deterministic_and_solvable():
    assert generate_map(6, 17, 0.2) == generate_map(6, 17, 0.2)
    env = FrozenLakeText(split="valid_unseen")
    for task_id in env.task_ids()[:20]:
        env.reset(options={"task_id": task_id})
        assert env.size in (7, 8)
        assert env.state_info()["expert_steps_left"] >= env.size - 1


def test_hole_terminates_without_success_and_goal_rewards():
    env = FrozenLakeText()
    env.reset(seed=0)
    env.rows, env.pos, env.goal = ("SH", "GF"), (0, 0), (1, 0)
    _, reward, terminated, truncated, info = env.step("east")
    assert (reward, terminated, truncated, info["success"]) == (0.0, True, False, False)
    env.reset(seed=0)
    env.rows, env.pos, env.goal = ("SH", "GF"), (0, 0), (1, 0)
    _, reward, terminated, _, info = env.step("south")
    assert (reward, terminated, info["success"], info["score"]) == (1.0, True, True, 1.0)


def test_same_position_same_state_key_across_rollouts():
    env = agentgym.make("agentgym/FrozenLake-v0")
    _, info = env.reset(seed=11)
    start_key = info["state_key"]
    first = info["admissible_actions"][0]
    back = {"north": "south", "south": "north", "east": "west", "west": "east"}[first]
    _, _, terminated, _, info = env.step(first)
    if not terminated:
        _, _, _, _, info = env.step(back)
        assert info["state_key"] == start_key


def test_expert_success_rate_is_one_and_random_is_low():
    env = agentgym.make("agentgym/FrozenLake-v0", split="valid_seen")
    rng = np.random.default_rng(0)
    random_wins = 0
    for seed in range(30):
        _, info = env.reset(seed=seed)
        done = False
        while not done:
            _, _, te, tr, info = env.step(info["expert_action"])
            done = te or tr
        assert info["success"]
        _, info = env.reset(seed=seed)
        done = False
        while not done:
            _, _, te, tr, info = env.step(rng.choice(info["admissible_actions"]))
            done = te or tr
        random_wins += info["success"]
    assert random_wins < 15


def test_goal_is_given_as_a_compass_offset():
    env = FrozenLakeText()
    env.reset(seed=0)
    env.rows, env.goal = ("FFF", "FFF", "FFG"), (2, 2)
    env.pos = (0, 1)
    assert env._goal_offset() == "2 rows south and 1 column east"
    env.pos = (2, 0)
    assert env._goal_offset() == "2 columns east"
    env.goal, env.pos = (0, 0), (1, 0)
    assert env._goal_offset() == "1 row north"


def test_v1_shows_the_3x3_square_and_the_goal_direction_but_no_coordinates_or_distances():
    from environments.toytext.frozenlake import FrozenLakeTextV1

    env = FrozenLakeTextV1()
    env.reset(seed=0)
    # S at row 2, column 2 of this map; the goal 1 row south and 1 column west
    env.rows, env.pos, env.goal = ("HFF", "FSH", "GFF"), (1, 1), (2, 0)
    obs, _, _, _, info = env.step("bump")  # invalid: the observation is re-described, nothing moves
    assert obs.endswith("The goal is south and west, as far each way. North: ice. South: ice. East: a hole. "
                        "West: ice. Northeast: ice. Northwest: a hole. Southeast: ice. Southwest: the goal.")
    assert "row 2" not in obs and info["task"] == "Walk to the goal without falling into a hole."
    env.rows, env.pos, env.goal = ("HF", "SF"), (1, 0), (0, 1)
    obs, *_ = env.step("south")  # off the lake: the edge tiles are named too
    assert "Southeast: the edge of the lake. Southwest: the edge of the lake." in obs
    env.pos, env.goal = (0, 0), (3, 1)  # 3 rows south, 1 column east: the longer way is named, not counted
    assert env._goal_offset() == "south and east, farther south"
    env.goal = (0, 5)
    assert env._goal_offset() == "straight east"
    # v0 keeps its four neighbours and coordinates
    v0 = agentgym.make("agentgym/FrozenLake-v0").unwrapped
    v0.reset(seed=0)
    v0.rows, v0.pos, v0.goal = ("HFF", "FSH", "GFF"), (1, 1), (2, 0)
    obs, *_ = v0.step("bump")
    assert "You are at row 2, column 2." in obs and "Northeast" not in obs
