"""Hand-written baselines: they read only the prompt, follow their rule on hand-worked cases, and play."""

import pytest

from agentgym.core import plugins
from agentgym.eval.held_out import evaluate
from agentgym.rollout.episode import EpisodeSettings
from agentgym.rollout.pool import make_pool
from agentgym.rollout.prompts import HistoryItem, build_messages, parse_action
from policies.heuristics import HeuristicPolicy, frozenlake, textworld
from policies.heuristics.view import PromptView

LAKE = "agentgym/FrozenLake-v0"


def lake(observation: str) -> str:
    view = PromptView.of(build_messages("Walk to the goal.", observation, admissible_actions=["north", "south"]))
    return frozenlake.act(view)


def test_prompt_view_reads_back_task_history_observation_and_actions():
    history = [HistoryItem("go north", "You went north."), HistoryItem("take coin", "Taken.")]
    messages = build_messages("Find the coin.", "A room.\n\nExits: north.", history,
                              admissible_actions=["go north", "look"], history_len=2)
    view = PromptView.of(messages)
    assert view == PromptView("Find the coin.", "A room.\n\nExits: north.", ("go north", "look"),
                              ("go north", "take coin"))
    bare = PromptView.of(build_messages(None, "Just this."))
    assert bare == PromptView("", "Just this.", (), ())


def test_frozenlake_rule_on_hand_worked_observations():
    # the longer way first (2 rows south before 1 column east), onto ice
    assert lake("The goal is 2 rows south and 1 column east. North: ice. South: ice. East: ice. West: ice.") == "south"
    # that way is a hole: the other way toward the goal
    assert lake("The goal is 2 rows south and 1 column east. North: ice. South: a hole. East: ice. "
                "West: ice.") == "east"
    # the goal tile itself is next to us
    assert lake("The goal is 1 row north. North: the goal. South: ice. East: ice. West: ice.") == "north"
    # blocked toward the goal: sideways (not back), first in north/south/east/west order
    assert lake("The goal is 3 rows south. North: ice. South: a hole. East: ice. West: ice.") == "east"
    # only the way back is ice
    assert lake("The goal is 3 rows south. North: ice. South: a hole. East: a hole. "
                "West: the edge of the lake.") == "north"
    # nothing safe: a fixed answer rather than an error
    assert lake("The goal is 3 rows south. North: a hole. South: a hole. East: a hole. West: a hole.") == "north"


def test_frozenlake_rule_reads_v1_diagonals_to_pick_the_sideways_step_that_leads_on():
    blocked = "The goal is 3 rows south. North: ice. South: a hole. East: ice. West: ice. "
    # east is first in order, but the tile beyond it toward the goal (southeast) is a hole; southwest is ice
    assert lake(blocked + "Northeast: ice. Northwest: ice. Southeast: a hole. Southwest: ice.") == "west"
    # both lead on: the order decides, as on v0
    assert lake(blocked + "Northeast: ice. Northwest: ice. Southeast: ice. Southwest: ice.") == "east"
    # neither leads on: still a safe sideways step, not back north
    assert lake(blocked + "Northeast: ice. Northwest: ice. Southeast: a hole. Southwest: a hole.") == "east"
    # both ways toward the goal are holes: north is first, but only east leads on (southeast is ice)
    assert lake("The goal is 1 row south and 1 column west. North: ice. South: a hole. East: ice. West: a hole. "
                "Northeast: ice. Northwest: a hole. Southeast: ice. Southwest: the goal.") == "east"


def test_textworld_rule_does_what_the_task_names_in_order():
    task = "First, open the chest drawer. Then, pick up the old key from the chest drawer. Then, go east."
    view = PromptView(task, "A bedroom.", ("examine chest drawer", "go east", "open antique trunk",
                                           "open chest drawer", "take old key from chest drawer"), ())
    assert textworld.act(view) == "open chest drawer"  # named first; the trunk is not named
    after = PromptView(task, "A bedroom.", ("close chest drawer", "go east", "take old key from chest drawer"),
                       ("open chest drawer",))
    assert textworld.act(after) == "take old key from chest drawer"  # never undo the last action
    walk = PromptView(task, "A bedroom.", ("go east", "go west", "put old key in chest drawer"),
                      ("take old key from chest drawer",))
    assert textworld.act(walk) == "go east"
    back = PromptView("Go north. Then go south. Then take the coin.", "A hall.", ("go north", "go south"),
                      ("go north",))
    assert textworld.act(back) == "go north"  # the task's 'south' would walk straight back


def test_heuristic_spec_binds_to_the_environment_and_refuses_others():
    policy = plugins.policy_from_spec("heuristic", env_id=LAKE)
    assert isinstance(policy, HeuristicPolicy) and policy.env_id == LAKE
    with pytest.raises(ValueError, match="no heuristic baseline for 'agentgym/SQL-v0'"):
        plugins.policy_from_spec("heuristic:agentgym/SQL-v0")
    with pytest.raises(ValueError, match="heuristic needs an environment"):
        plugins.policy_from_spec("heuristic")


def test_frozenlake_heuristic_plays_well_and_never_steps_into_a_hole():
    pool = make_pool(LAKE, "valid_seen", 20)
    try:
        result = evaluate(plugins.policy_from_spec("heuristic", env_id=LAKE), pool, "valid_seen", 40,
                          episode=EpisodeSettings())
    finally:
        pool.close()
    steps = [s for t in result.trajectories for s in t.steps]
    assert all(parse_action(s.response) in ("north", "south", "east", "west") for s in steps)
    assert not any("fell through a hole" in s.observation for s in steps)  # it only walks onto ice or the goal
    assert result.metrics("")["success_rate"] >= 0.7  # 0.85 on the first 100 (docs/benchmarks.md)


def test_frozenlake_rule_reads_v1_directions_without_distances():
    around = " North: ice. South: ice. East: ice. West: ice."
    assert lake("The goal is south and east, farther east." + around) == "east"
    assert lake("The goal is south and east, farther south." + around) == "south"
    assert lake("The goal is north and west, as far each way." + around) == "north"  # tie: the order named
    assert lake("The goal is straight west." + around) == "west"
