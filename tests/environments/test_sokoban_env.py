"""Sokoban-v0: rewards, deadlocks, lenient moves, junk, splits and the expert, with hand-worked values."""

import pytest

import agentgym
from agentgym.core.checker import adversarial_actions
from environments.sokoban.actions import parse_move
from environments.sokoban.env import SokobanEnv
from environments.sokoban.expert import Expert
from environments.sokoban.room import Room

OFF_AND_ON = """
#######
#_____#
#_X___#
#P*__O#
#_____#
#_____#
#######"""


def on_room(text: str, max_steps: int = 50, **kwargs) -> SokobanEnv:
    """An environment reset, then put in the hand-built room."""
    env = SokobanEnv(**kwargs)
    env.reset(seed=0)
    env.room, env.state = Room.parse(text)
    env.expert, env.max_steps = Expert(env.room), max_steps
    return env


def test_moves_are_read_leniently():
    assert [parse_move(a) for a in ("up", " Move LEFT. ", "push right", "North", "d")] == \
        ["up", "left", "right", "up", "down"]
    assert [parse_move(a) for a in ("up left", "jump", "", "upward")] == [None, None, None, None]


def test_reward_shape_by_hand():
    env = on_room(OFF_AND_ON)
    # box off its target (-1), along, onto the far target (+1), walk round, last box on (+1 +10); -0.1 a step
    moves = ["right", "right", "right", "up", "up", "left", "left", "down"]
    rewards = []
    for move in moves:
        obs, reward, terminated, truncated, info = env.step(move)
        rewards.append(round(reward, 6))
    assert rewards == [-1.1, -0.1, 0.9, -0.1, -0.1, -0.1, -0.1, 10.9]
    assert (terminated, truncated, info["success"], info["score"]) == (True, False, True, 1.0)
    assert "you solved the room" in obs and info["expert_steps_left"] == 0


def test_success_reward_is_sparse():
    env = on_room(OFF_AND_ON, reward="success")
    rewards = [env.step(m)[1] for m in ["right", "right", "right", "up", "up", "left", "left", "down"]]
    assert rewards == [0.0] * 7 + [1.0]
    with pytest.raises(ValueError, match="reward must be one of"):
        SokobanEnv(reward="dense")


DEAD_END = """
#######
#_____#
#_____#
#__PX_#
#O____#
#######"""


def test_a_deadlock_ends_the_episode_and_charges_the_steps_cut_short():
    env = on_room(DEAD_END, max_steps=10)
    env.step("wait")  # invalid: nothing moves, the step still costs 0.1
    obs, reward, terminated, truncated, info = env.step("right")  # box to the right wall's dead side
    assert "Deadlock: the box at row 4, column 6 can no longer be pushed to any target" in obs
    # -0.1 for this step and -0.1 for each of the 8 steps the deadlock cut off
    assert (round(reward, 6), terminated, truncated, info["success"]) == (-0.9, True, False, False)
    assert info["expert_action"] is None and info["expert_steps_left"] is None


def test_without_end_on_deadlock_the_lost_room_plays_on():
    env = on_room(DEAD_END, max_steps=10, end_on_deadlock=False)
    _, reward, terminated, _, info = env.step("right")
    assert (round(reward, 6), terminated) == (-0.1, False)
    assert info["expert_steps_left"] is None


def test_junk_is_explained_and_changes_nothing():
    env = on_room(OFF_AND_ON)
    key = env.state_info()["state_key"]
    obs, reward, terminated, _, info = env.step("teleport to the target")
    assert obs.startswith("'teleport to the target' is not a move. Valid actions: up, down, left, right.")
    assert (info["action_valid"], info["state_key"], round(reward, 6), terminated) == (False, key, -0.1, False)
    obs, *_ = env.step("left")  # the wall: valid, nothing moves
    assert obs.startswith("You cannot move left: a wall is in the way.")


def test_observation_has_grid_legend_and_options():
    env = on_room(OFF_AND_ON)
    obs, *_ = env.step("down")
    assert obs == ("You moved down.\n#######\n#_____#\n#_X___#\n#_*__O#\n#P____#\n#_____#\n#######\n"
                   "Legend: # wall, _ floor, O target, X box, * box on a target, P you, S you on a target.\n"
                   "Boxes on targets: 1 of 2.\nA box is 2 rows up and 1 column right of you; the nearest free target is "
                   "1 row down and 3 columns right of it.\nYour options: Up: walk. Down: walk. Left: a wall, nothing moves. "
                   "Right: walk.")
    bare = on_room(OFF_AND_ON, positions=False)
    assert "A box is" not in bare.step("down")[0]
    obs, *_ = env.step("up")  # back at the start: the box on a target is to the right
    assert obs.endswith("Left: a wall, nothing moves. Right: push the box off its target.")
    env.step("right")
    obs, *_ = env.step("right")
    assert obs.startswith("You pushed the box right.\n") and obs.endswith("Right: push the box onto a target.")
    obs, *_ = env.step("up")
    assert obs.endswith("Up: walk. Down: walk. Left: push the box. Right: walk.")  # the other box, row 3 column 3


def test_ten_thousand_junk_actions_never_raise():
    env = agentgym.make("agentgym/Sokoban-v0", split="train", num_tasks=4)
    env.reset(seed=0)
    for action in adversarial_actions(10_000, seed=3):
        obs, reward, terminated, truncated, info = env.step(action)
        assert isinstance(obs, str) and isinstance(info["state_key"], str)
        if terminated or truncated:
            env.reset(seed=0)


def test_task_ids_are_split_local_and_refused_elsewhere():
    train, seen, unseen = (SokobanEnv(split=s) for s in agentgym.SPLITS)
    assert train.task_ids()[:3] == ["6x6-b1-0", "6x6-b2-1", "7x7-b1-2"]
    assert seen.task_ids()[0] == "6x6-b1-1000000" and unseen.task_ids()[:2] == ["8x8-b1-2000000", "8x8-b2-2000001"]
    with pytest.raises(ValueError, match="not in split 'train'"):
        train.reset(options={"task_id": "6x6-b1-1000000"})
    with pytest.raises(ValueError, match="not in split"):
        seen.reset(options={"task_id": "junk"})
    per_split = SokobanEnv(split="valid_unseen", rooms={"train": [[6, 1]], "valid_unseen": [[7, 1]]}, num_tasks=2)
    assert per_split.task_ids() == ["7x7-b1-2000000", "7x7-b1-2000001"]
    with pytest.raises(ValueError, match="size >= 5"):
        SokobanEnv(rooms=[[4, 1]])


@pytest.mark.parametrize("split", ["valid_seen", "valid_unseen"])
def test_expert_solves_held_out_tasks_in_the_fewest_moves(split):
    env = agentgym.make("agentgym/Sokoban-v0", split=split)
    for task_id in env.unwrapped.task_ids()[:5]:
        _, info = env.reset(options={"task_id": task_id})
        planned, steps = info["expert_steps_left"], 0
        assert info["task_type"] in ("6x6, 1 box", "6x6, 2 boxes", "7x7, 1 box", "7x7, 2 boxes",
                                     "8x8, 1 box", "8x8, 2 boxes")
        while True:
            _, _, terminated, truncated, info = env.step(info["expert_action"])
            steps += 1
            if terminated or truncated:
                break
        assert info["success"] and steps == planned


def test_same_position_same_state_key():
    env = on_room(OFF_AND_ON)
    key = env.state_info()["state_key"]
    env.step("up")
    _, _, _, _, info = env.step("down")
    assert info["state_key"] == key == "#######\n#_____#\n#_X___#\n#P*__O#\n#_____#\n#_____#\n#######"
