import gymnasium
import pytest

import agentgym
from agentgym.core.env import sanitise_action
from agentgym.core.spaces import FreeText


def test_free_text_accepts_any_str_up_to_max_length():
    space = FreeText(10)
    assert space.contains("go north!") and space.contains("")
    assert not space.contains("x" * 11) and not space.contains(3)
    assert space.contains(space.sample())


@pytest.mark.parametrize("action,problem", [
    ("", "empty"), ("\x00\x01", "empty"), (None, "must be text"), ("a" * 100_001, "characters long"),
])
def test_unusable_actions_are_explained(action, problem):
    text, message = sanitise_action(action)
    assert problem in message


def test_control_characters_are_blanked_and_bytes_decoded():
    assert sanitise_action("go\x07 north") == ("go  north", None)
    assert sanitise_action(b"north") == ("north", None)


def test_step_before_reset_raises_reset_needed():
    env = agentgym.make("agentgym/FrozenLake-v0").unwrapped
    with pytest.raises(gymnasium.error.ResetNeeded):
        env.step("north")


def test_task_option_selects_the_task_and_rejects_foreign_ids():
    env = agentgym.make("agentgym/FrozenLake-v0", split="valid_seen")
    task_id = env.unwrapped.task_ids()[7]
    _, info = env.reset(options={"task_id": task_id})
    assert info["task_id"] == task_id
    with pytest.raises(ValueError, match="not in split"):
        env.reset(options={"task_id": "4x4-0"})  # a train task


def test_stepping_after_the_end_is_harmless():
    env = agentgym.make("agentgym/FrozenLake-v0")
    _, info = env.reset(seed=0)
    while True:
        _, _, terminated, truncated, info = env.step(info["expert_action"])
        if terminated or truncated:
            break
    obs, reward, *_ , info = env.step("north")
    assert "episode is over" in obs and reward == 0.0 and info["action_valid"] is False
