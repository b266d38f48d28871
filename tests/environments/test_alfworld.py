"""ALFWorld-v0: generated games in the official layout, the oracle expert, state keys, official data_dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("alfworld")
pytest.importorskip("fast_downward")

from alfworld.gen import constants  # noqa: E402
from alfworld.info import ALFRED_PDDL_PATH, ALFRED_TWL2_PATH  # noqa: E402

import agentgym  # noqa: E402
from environments.alfworld.env import ALFWorldEnv, normalise_command  # noqa: E402
from environments.alfworld.splits import OFFICIAL_COUNTS, parse_task_id, split_task_ids  # noqa: E402

ENV_ID = "agentgym/ALFWorld-v0"
# Living rooms and bedrooms: small games, so the default test run stays quick on a shared CPU.
LIGHT = {"split": "valid_unseen", "task_types": ("look_at_obj_in_light",)}
pytestmark = pytest.mark.usefixtures("isolated_cache")  # generated games in a fresh cache (conftest)


def play_expert(env, task_id: str) -> tuple[bool, list[int]]:
    """Follow expert_action; return success and the expert_steps_left seen before each step."""
    _, info = env.reset(options={"task_id": task_id})
    left = [info["expert_steps_left"]]
    for _ in range(50):
        assert info["expert_action"] in info["admissible_actions"], info["expert_action"]
        _, _, terminated, truncated, info = env.step(info["expert_action"])
        left.append(info["expert_steps_left"])
        if terminated or truncated:
            break
    return bool(info["success"]), left


def test_split_ids_are_cheap_deterministic_disjoint_and_follow_official_counts():
    ids = {split: split_task_ids(split) for split in OFFICIAL_COUNTS}
    assert {s: len(v) for s, v in ids.items()} == {"train": 3553, "valid_seen": 140, "valid_unseen": 134}
    assert ids["train"] == split_task_ids("train")
    assert not set(ids["train"]) & set(ids["valid_seen"]) and not set(ids["train"]) & set(ids["valid_unseen"])
    for split, counts in OFFICIAL_COUNTS.items():
        seen = {}
        for task_id in ids[split]:
            task_type, scene, _ = parse_task_id(task_id)
            seen[task_type] = seen.get(task_type, 0) + 1
            pool = constants.TEST_SCENE_NUMBERS if split == "valid_unseen" else constants.TRAIN_SCENE_NUMBERS
            assert scene in pool, (split, task_id)
        assert seen == counts
    assert split_task_ids("train", 10) == ids["train"][:10]


def test_num_tasks_argument_does_not_shadow_the_count():
    """ALFWorldEnv(num_tasks=...) once set self.num_tasks, hiding TextEnv.num_tasks(): `python -m agentgym.envs`
    listed ALFWorld as unavailable ('NoneType' object is not callable)."""
    assert ALFWorldEnv(num_tasks=3).num_tasks() == 3
    assert ALFWorldEnv(split="valid_seen").num_tasks() == 140


def test_expert_solves_one_game_of_each_type_with_exact_progress():
    env = ALFWorldEnv(split="valid_unseen")
    by_type = {}
    for task_id in env.task_ids():  # prefer a game outside the kitchen (smaller, faster)
        task_type, scene, _ = parse_task_id(task_id)
        if task_type not in by_type or (by_type[task_type][1] <= 30 < scene):
            by_type[task_type] = (task_id, scene)
    by_type = {t: task_id for t, (task_id, _) in by_type.items()}
    assert len(by_type) == 6
    for task_type, task_id in sorted(by_type.items()):
        solved, left = play_expert(env, task_id)
        assert solved, task_id
        # the oracle's plan is followed exactly: one step less after every action, 0 when won
        assert left == list(range(left[0], -1, -1)), (task_type, left)


def test_generated_game_is_in_the_official_layout():
    env = ALFWorldEnv(split="valid_seen", num_tasks=1)
    env.reset(seed=0)
    game = env.game_path(env.task_id)
    trial, task, split, data = game.parent, game.parent.parent, game.parent.parent.parent, game.parents[3]
    assert (split.name, data.name) == ("valid_seen", "json_2.1.1")
    assert game.name == "game.tw-pddl" and (trial / "traj_data.json").is_file()
    gamedata = json.loads(game.read_text())
    traj = json.loads((trial / "traj_data.json").read_text())
    assert gamedata["solvable"] is True and gamedata["walkthrough"]
    assert gamedata["pddl_domain"] == Path(ALFRED_PDDL_PATH).read_text()
    assert task.name.startswith(traj["task_type"] + "-" + traj["pddl_params"]["object_target"])
    assert "UNKNOWN GOAL" not in gamedata["grammar"]


def test_invalid_commands_change_nothing_and_commands_are_normalised():
    env = agentgym.make(ENV_ID, **LIGHT)
    _, info = env.reset(seed=1)
    obs, reward, terminated, truncated, after = env.step("fly to the moon")
    assert obs == "Nothing happens." and not after["action_valid"] and reward == 0.0
    assert after["state_key"] == info["state_key"] and after["expert_action"] == info["expert_action"]
    assert normalise_command("  Go to   Cabinet 1. ") == "go to cabinet 1"
    _, _, _, _, moved = env.step(info["expert_action"].upper() + ".")
    assert moved["action_valid"] and moved["expert_steps_left"] == info["expert_steps_left"] - 1


def test_state_key_comes_from_facts_not_from_text():
    env = ALFWorldEnv(**LIGHT)
    _, info = env.reset(seed=2)
    start = info["state_key"]
    assert start.startswith("at=middle of the room; holding=nothing")
    for command in ("look", "inventory", "help"):
        _, _, _, _, info = env.step(command)
        assert info["state_key"] == start  # looking around changes no state
    go = next(a for a in info["admissible_actions"] if a.startswith("go to"))
    _, _, _, _, there = env.step(go)
    _, _, _, _, inv = env.step("inventory")
    assert inv["state_key"] == there["state_key"] != start
    # same observation text ("You are not carrying anything.") at two different places: keys differ
    env.reset(seed=2)
    obs_start, _, _, _, inv_start = env.step("inventory")
    assert obs_start == "You are not carrying anything." and inv_start["state_key"] != inv["state_key"]

    text_env = ALFWorldEnv(**LIGHT, anchor="observation")
    _, info = text_env.reset(seed=2)
    obs, _, _, _, info = text_env.step("inventory")
    assert info["state_key"] == obs == "You are not carrying anything."


def test_open_close_and_take_put_back_return_to_the_same_key():
    env = ALFWorldEnv(**LIGHT)
    _, info = env.reset(seed=2)
    openers = [a for a in info["admissible_actions"] if a.startswith("go to")]
    for go in openers:  # find a closed receptacle
        _, _, _, _, info = env.step(go)
        opens = [a for a in info["admissible_actions"] if a.startswith("open ")]
        if opens:
            break
    before = info["state_key"]
    _, _, _, _, opened = env.step(opens[0])
    assert "open=" + opens[0][5:] in opened["state_key"]
    _, _, _, _, closed = env.step("close" + opens[0][4:])
    assert closed["state_key"] == before


HAND_WRITTEN_PROBLEM = """(define (problem handwritten)
(:domain alfred)
(:objects
agent1 - agent
AppleType - otype
KnifeType - otype
ButterKnifeType - otype
FridgeType - rtype
CounterTopType - rtype
SinkBasinType - rtype
MicrowaveType - rtype
Apple_bar__plus_00_dot_10_bar__plus_00_dot_90_bar__minus_01_dot_00 - object
Fridge_bar__minus_02_dot_00_bar__plus_00_dot_00_bar__plus_01_dot_00 - receptacle
CounterTop_bar__plus_00_dot_10_bar__plus_00_dot_95_bar__minus_01_dot_20 - receptacle
loc_bar_0_bar_0_bar_0_bar_60 - location
loc_bar__minus_8_bar_4_bar_3_bar_30 - location
loc_bar_0_bar__minus_4_bar_2_bar_30 - location
)
(:init
(atLocation agent1 loc_bar_0_bar_0_bar_0_bar_60)
(receptacleType Fridge_bar__minus_02_dot_00_bar__plus_00_dot_00_bar__plus_01_dot_00 FridgeType)
(receptacleType CounterTop_bar__plus_00_dot_10_bar__plus_00_dot_95_bar__minus_01_dot_20 CounterTopType)
(receptacleAtLocation Fridge_bar__minus_02_dot_00_bar__plus_00_dot_00_bar__plus_01_dot_00 loc_bar__minus_8_bar_4_bar_3_bar_30)
(receptacleAtLocation CounterTop_bar__plus_00_dot_10_bar__plus_00_dot_95_bar__minus_01_dot_20 loc_bar_0_bar__minus_4_bar_2_bar_30)
(openable Fridge_bar__minus_02_dot_00_bar__plus_00_dot_00_bar__plus_01_dot_00)
(objectType Apple_bar__plus_00_dot_10_bar__plus_00_dot_90_bar__minus_01_dot_00 AppleType)
(pickupable Apple_bar__plus_00_dot_10_bar__plus_00_dot_90_bar__minus_01_dot_00)
(inReceptacle Apple_bar__plus_00_dot_10_bar__plus_00_dot_90_bar__minus_01_dot_00 CounterTop_bar__plus_00_dot_10_bar__plus_00_dot_95_bar__minus_01_dot_20)
(objectAtLocation Apple_bar__plus_00_dot_10_bar__plus_00_dot_90_bar__minus_01_dot_00 loc_bar_0_bar__minus_4_bar_2_bar_30)
(canContain FridgeType AppleType)
(canContain CounterTopType AppleType)
)
(:goal (and (exists (?r - receptacle) (exists (?o - object) (and (inReceptacle ?o ?r)
  (objectType ?o AppleType) (receptacleType ?r FridgeType))))))
)
"""


def write_official_game(root: Path) -> Path:
    """A game folder written by hand in ALFWorld's layout, as `alfworld-generate` leaves it."""
    trial = root / "json_2.1.1" / "valid_seen" / "pick_and_place_simple-Apple-None-Fridge-1" / "trial_T20190101_000000"
    trial.mkdir(parents=True)
    grammar = Path(ALFRED_TWL2_PATH).read_text().replace("UNKNOWN GOAL", "put some apple in fridge")
    game = {"pddl_domain": Path(ALFRED_PDDL_PATH).read_text(), "grammar": grammar,
            "pddl_problem": HAND_WRITTEN_PROBLEM, "solvable": True, "walkthrough": None}
    (trial / "game.tw-pddl").write_text(json.dumps(game))
    traj = {"task_type": "pick_and_place_simple", "task_id": "trial_T20190101_000000",
            "pddl_params": {"object_target": "Apple", "parent_target": "Fridge", "toggle_target": "",
                            "mrecep_target": "", "object_sliced": False}}
    (trial / "traj_data.json").write_text(json.dumps(traj))
    return trial


def test_official_layout_game_written_by_hand_plays_through_data_dir(tmp_path):
    write_official_game(tmp_path)
    env = agentgym.make(ENV_ID, split="valid_seen", data_dir=str(tmp_path))
    assert env.unwrapped.task_ids() == ("pick_and_place_simple-Apple-None-Fridge-1/trial_T20190101_000000",)
    obs, info = env.reset(seed=0)
    assert "Your task is to: put some apple in fridge." in obs
    assert info["task"] == "put some apple in fridge." and info["task_type"] == "pick_and_place_simple"
    # hand-worked optimal plan: go to countertop 1, take apple 1, go to fridge 1, open fridge 1, move
    assert info["expert_steps_left"] == 5 and info["expert_action"] == "go to countertop 1"
    solved, left = play_expert(env.unwrapped, info["task_id"])
    assert solved and left == [5, 4, 3, 2, 1, 0]


@pytest.mark.timeout(30)
def test_empty_or_missing_data_dir_fails_fast_with_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ALFWorldEnv(split="train", data_dir=str(tmp_path / "nowhere")).task_ids()
    (tmp_path / "json_2.1.1" / "train").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="No playable ALFWorld game"):
        agentgym.make(ENV_ID, split="train", data_dir=str(tmp_path)).reset(seed=0)


def test_check_env_on_a_small_split():
    env = agentgym.make(ENV_ID, **LIGHT, num_tasks=2)
    agentgym.check_env(env, n_random_actions=60)


def stratified_sample(total: int) -> list[tuple[str, str]]:
    """``total`` (split, task id) pairs spread over the three splits and six types."""
    per_split = {"train": total - 2 * (total // 4), "valid_seen": total // 4, "valid_unseen": total // 4}
    picked = []
    for split, count in per_split.items():
        ids = split_task_ids(split)
        picked += [(split, ids[i * len(ids) // count]) for i in range(count)]
    return picked


@pytest.mark.slow
@pytest.mark.timeout(7200)
def test_expert_solves_a_sample_of_200_generated_games_and_random_play_rarely_does():
    import random

    sample = stratified_sample(200)
    assert {parse_task_id(t)[0] for _, t in sample} == set(OFFICIAL_COUNTS["train"])
    envs = {split: ALFWorldEnv(split=split) for split in OFFICIAL_COUNTS}
    failures, random_wins, rng = [], 0, random.Random(0)
    for split, task_id in sample:
        solved, left = play_expert(envs[split], task_id)
        if not solved or left != list(range(left[0], -1, -1)):
            failures.append(task_id)
        _, info = envs[split].reset(options={"task_id": task_id})
        for _ in range(50):
            _, _, terminated, truncated, info = envs[split].step(rng.choice(info["admissible_actions"]))
            if terminated or truncated:
                break
        random_wins += bool(info["success"])
    assert not failures, failures
    assert random_wins <= 0.25 * len(sample), random_wins


def test_threaded_resets_generate_and_play_new_games_concurrently():
    """Environments reset and step on threads of their own (a user's threads; pool workers step these
    on one thread); textworld's PDDL parser and fast_downward's translator are not thread-safe (a race
    here crashed game generation before ENGINE_LOCK)."""
    from concurrent.futures import ThreadPoolExecutor

    envs = [agentgym.make(ENV_ID, split="valid_unseen", num_tasks=40) for _ in range(3)]
    try:
        ids = list(envs[0].unwrapped.task_ids())[-3:]  # games no other test generates
        with ThreadPoolExecutor(3) as threads:
            results = list(threads.map(lambda e, t: e.reset(options={"task_id": t}), envs, ids))
            assert [info["task_id"] for _, info in results] == ids
            stepped = list(threads.map(lambda e, r: e.step(r[1]["expert_action"]), envs, results))
        assert all(info["action_valid"] for *_, info in stepped)
    finally:
        for env in envs:
            env.close()
