"""Hand-written baselines: one short rule per environment that reads only what the agent is shown.

``heuristic:ENV_ID`` (``python -m agentgym.eval --policy heuristic`` fills in ``--env``) plays the
rule registered for that environment. Each rule sees the step's prompt through ``PromptView``: the
task line, the observation, the admissible actions and the history lines the prompt shows; never
the expert, the map or the state key. Learning tables show them beside trained policies so a
trained agent is compared with what ten lines of code achieve.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentgym.core.policy import Generation, SamplingParams
from agentgym.core.types import Messages
from agentgym.rollout.prompts import format_action
from policies.heuristics import frozenlake, sokoban, textworld
from policies.heuristics.view import PromptView

Rule = Callable[[PromptView], str]
RULES: dict[str, Rule] = {
    "agentgym/FrozenLake-v0": frozenlake.act,
    "agentgym/FrozenLake-v1": frozenlake.act,
    **{f"agentgym/TextWorld-{family}-v0": textworld.act
       for family in ("CoinCollector", "TreasureHunter", "Simple", "Custom", "Cooking")},
    "agentgym/TextWorld-v0": textworld.act,
    "agentgym/Sokoban-v0": sokoban.act,
}


def has_heuristic(env_id: str) -> bool:
    return env_id in RULES


class HeuristicPolicy:
    """Plays ``RULES[env_id]`` on each prompt; deterministic, so greedy and sampled play agree."""

    def __init__(self, env_id: str):
        if env_id not in RULES:
            raise ValueError(f"no heuristic baseline for {env_id!r}; environments with one: {', '.join(sorted(RULES))}")
        self.env_id, self.rule = env_id, RULES[env_id]

    def generate(self, prompts: list[Messages], sampling: SamplingParams | None = None,
                 infos: list[dict[str, Any]] | None = None) -> list[Generation]:
        return [Generation(text=format_action(self.rule(PromptView.of(messages)))) for messages in prompts]
