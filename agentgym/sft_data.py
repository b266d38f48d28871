"""Supervised examples from an environment's expert: the prompts the RL rollout shows, the expert's action.

The episodes are played through the rollout's own ``collect`` (so SFT prompts are exactly the
prompts RL shows, context guard and observation limit included) by ``ExpertExplorer``: it plays
``info["expert_action"]``, except that with probability ``explore`` a random admissible action
drives the episode while the label stays the expert's (DAgger-style), so the examples also cover
states an imperfect policy reaches. Each step with an expert action gives one example, its target
``format_action(expert_action)``. Used by SFT and by the tiny model's tokenizer corpus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agentgym.policy import Generation, SamplingParams
from agentgym.pool import make_pool
from agentgym.prompts import format_action
from agentgym.registry import prompt_history_len
from agentgym.rollout import PromptConfig, collect
from agentgym.types import Messages

NO_ACTION = "(no action)"  # what the explorer says where there is neither an expert nor an admissible list


@dataclass
class Example:
    messages: Messages
    response: str


class ExpertExplorer:
    """The expert, or with probability ``explore`` a random admissible action (one generator for all)."""

    info_keys = ("expert_action",)

    def __init__(self, explore: float, rng: np.random.Generator):
        self.explore, self.rng = explore, rng

    def generate(self, prompts: list[Messages], sampling: SamplingParams | None = None,
                 infos: list[dict[str, Any]] | None = None) -> list[Generation]:
        out = []
        for info in infos or [{} for _ in prompts]:
            action, admissible = info.get("expert_action"), info.get("admissible_actions")
            if admissible and (action is None or self.rng.random() < self.explore):
                action = str(admissible[int(self.rng.integers(len(admissible)))])
            out.append(Generation(text=format_action(action if action is not None else NO_ACTION)))
        return out


def collect_examples(env_id: str, episodes: int, seed: int = 0, explore: float = 0.0, split: str = "train",
                     history_len: int | None = None, env_kwargs: dict[str, Any] | None = None) -> list[Example]:
    """(prompt, expert response) for every step of ``episodes`` episodes that has an expert action.

    Episode k resets with ``seed + k``; episodes run one after another so the explorer's random
    draws, and with them the examples, depend only on ``seed``.
    """
    prompt = PromptConfig(history_len=prompt_history_len(env_id, history_len))
    policy = ExpertExplorer(explore, np.random.default_rng(seed))
    pool = make_pool(env_id, split, 1, env_kwargs, backend="thread")
    examples = []
    try:
        for episode in range(episodes):
            trajectories, _ = collect(pool, policy, [{"seed": seed + episode}], 1, SamplingParams(), prompt,
                                      info_keys=policy.info_keys)
            for step in (s for traj in trajectories for s in traj.steps):
                if (expert := step.info.get("expert_action")) is not None:
                    examples.append(Example(step.prompt, format_action(expert)))
    finally:
        pool.close()
    return examples
