"""Sokoban's hand-written rule on hand-worked grids, and its play on held-out rooms (reading only the prompt)."""

import agentgym
from agentgym.rollout.prompts import build_messages, parse_action
from policies.heuristics import HeuristicPolicy, sokoban
from policies.heuristics.view import PromptView
from policies.scripted import ExpertPolicy, RandomPolicy


def rule(grid: str) -> str:
    observation = f"You moved up.\n{grid.strip()}\nLegend: # wall, _ floor, O target.\nBoxes on targets: 0 of 1."
    return sokoban.act(PromptView.of(build_messages("Push the box onto the target.", observation,
                                                    admissible_actions=["up", "down", "left", "right"])))


def test_pushes_when_behind_the_box_toward_the_target():
    assert rule("#######\n#P_X_O#\n#######") == "right"  # walk up to it first: the walk's first move is right
    assert rule("#######\n#_PXO_#\n#######") == "right"


def test_walks_round_to_the_push_position():
    # the box must go left, so the player walks to its right side: round the top, 'up' first
    assert rule("#######\n#_____#\n#OPX__#\n#_____#\n#######") == "up"


def test_never_pushes_into_a_corner_that_is_not_a_target():
    # pushing left would bring the box nearer the target, into the top-left corner, for good
    assert rule("######\n#_XP_#\n#____#\n#O___#\n######") != "left"


def test_plays_between_random_and_the_expert():
    env = agentgym.make("agentgym/Sokoban-v0", split="valid_seen")
    wins = {"heuristic": 0, "random": 0, "expert": 0}
    policies = {"heuristic": HeuristicPolicy("agentgym/Sokoban-v0"), "random": RandomPolicy(seed=0),
                "expert": ExpertPolicy()}
    for name, policy in policies.items():
        for task_id in env.unwrapped.task_ids()[:20]:
            obs, info = env.reset(options={"task_id": task_id})
            while True:
                messages = build_messages(info["task"], obs, admissible_actions=info["admissible_actions"])
                text = policy.generate([messages], infos=[info])[0].text
                obs, _, terminated, truncated, info = env.step(parse_action(text))
                if terminated or truncated:
                    break
            wins[name] += info["success"]
    assert wins["random"] < wins["heuristic"] < wins["expert"] == 20
