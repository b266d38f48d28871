"""bench/fatal_steps.py: the replayed prompt is the one the rollout builds, only hole endings are kept, a replay
that does not reach the recorded state stops the script, and the action probabilities are normalised by hand."""

import importlib.util
import math
from pathlib import Path

import pytest

import agentgym
from agentgym.rollout.prompts import HistoryItem, prompt_format

BENCH = Path(__file__).resolve().parents[2] / "bench" / "fatal_steps.py"
SPEC = importlib.util.spec_from_file_location("fatal_steps", BENCH)
fatal_steps = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(fatal_steps)

ENV = "agentgym/FrozenLake-v1"


def _play(task_id: str, actions: list[str]) -> tuple[dict, list, dict]:
    """An evaluation record of ``actions`` on ``task_id`` (seed 0), the history before its last step and the info
    there, played on the real environment."""
    env = agentgym.make(ENV, split="valid_seen")
    observation, info = env.reset(seed=0, options={"task_id": task_id})
    steps, history, before = [], [], (observation, info)
    for i, action in enumerate(actions):
        before = (observation, info)
        steps.append({"observation": observation, "action": action})
        observation, _, terminated, _, info = env.step(action)
        if i < len(actions) - 1:
            history.append(HistoryItem(action, observation))
        if terminated:
            break
    env.close()
    record = {"task_id": task_id, "seed": 0, "success": False, "final_observation": observation, "steps": steps}
    return record, history, before


def _into_a_hole() -> tuple[dict, list, dict, str]:
    """The first valid_seen task with a hole beside its first expert step's tile: walk there, then in."""
    env = agentgym.make(ENV, split="valid_seen")
    for task_id in env.unwrapped.task_ids()[:50]:
        _, info = env.reset(seed=0, options={"task_id": task_id})
        for prefix in ([info["expert_action"]],):  # one step in, so the prompt carries history
            record, _, _ = _play(task_id, prefix + ["north"])  # only to see the observation there
            observation = record["steps"][-1]["observation"]
            for direction in ("north", "south", "east", "west"):
                if f"{direction.capitalize()}: a hole." in observation:
                    record, history, (_, before_info) = _play(task_id, prefix + [direction])
                    if "fell through a hole" in record["final_observation"]:
                        env.close()
                        return record, history, before_info, direction
    env.close()
    raise AssertionError("no task with a hole beside its first steps")


def test_replay_rebuilds_the_rollout_prompt_and_keeps_only_holes():
    record, history, info, direction = _into_a_hole()
    assert "fell through a hole" in record["final_observation"] and len(history) == 1
    success = {**record, "success": True}
    timeout = {**record, "final_observation": "You went west. The goal is ..."}
    # FrozenLake's own history length is 0 (its observation is Markov); 2 puts the walked step into the prompt
    states = fatal_steps.fatal_states([record, success, timeout], ENV, "valid_seen", 2)
    assert len(states) == 1
    state = states[0]
    assert state["fatal"] == direction and state["admissible"] == info["admissible_actions"]
    expected = prompt_format(ENV, "compact").build(info["task"], record["steps"][-1]["observation"], history,
                                                    info["admissible_actions"], 2)
    assert state["messages"] == expected and "Step 1: you did" in expected[-1]["content"]


def test_a_record_the_environment_does_not_reproduce_stops_the_script():
    record, _, _, _ = _into_a_hole()
    record["steps"][-1]["observation"] = "You stand somewhere else."
    with pytest.raises(SystemExit, match="does not reach the recorded state"):
        fatal_steps.fatal_states([record], ENV, "valid_seen", None)


class _FixedScores:
    """A stand-in with ``logprobs``: per-token log-probs chosen so each action's sequence probability is known."""

    PROBS = {"north": 0.6, "east": 0.2, "west": 0.1}

    def logprobs(self, prompts, responses, add_eos=True):
        assert add_eos is False  # the action's probability ends at </action>
        out = []
        for response in responses:
            action = response.removeprefix("<action>").removesuffix("</action>")
            out.append([0.0, math.log(self.PROBS[action]), 0.0])  # the format tokens certain, the action not
        return out


def test_action_probabilities_normalise_over_the_admissible_actions():
    states = [{"messages": [], "admissible": ["north", "east", "west"], "fatal": "north"},
              {"messages": [], "admissible": ["east", "west"], "fatal": "west"}]
    first, second = fatal_steps.action_probabilities(_FixedScores(), states)
    # 0.6 / 0.9, 0.2 / 0.9, 0.1 / 0.9; then 0.2 / 0.3 and 0.1 / 0.3
    assert first == pytest.approx({"north": 2 / 3, "east": 2 / 9, "west": 1 / 9})
    assert second == pytest.approx({"east": 2 / 3, "west": 1 / 3})


def test_teacher_states_have_one_hole_toward_the_goal_that_the_expert_label_avoids():
    states = fatal_steps.teacher_states(ENV, 30)
    assert states, "30 teacher episodes should pass at least one hole beside the way to the goal"
    for state in states:
        now = state["messages"][-1]["content"].split("Now: ", 1)[1]
        goal = now.split("The goal is ", 1)[1].split(".", 1)[0]
        assert state["fatal"] in goal and f"{state['fatal'].capitalize()}: a hole." in now
        assert state["label"] in state["admissible"] and state["label"] != state["fatal"]
