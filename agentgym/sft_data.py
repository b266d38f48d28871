"""Supervised examples from an environment's expert: the prompts the RL rollout shows, the expert's action.

Prompts are built with ``agentgym.prompts.build_messages`` from ``HistoryItem(action, next
observation)`` and the environment's history length, exactly as rollouts build them; the target is
``format_action(info["expert_action"])``. ``explore > 0`` lets a random admissible action drive the
episode with that probability while the label stays the expert's (DAgger-style), so the examples
also cover states an imperfect policy reaches. Used by SFT and by the tiny model's tokenizer corpus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agentgym.prompts import HistoryItem, build_messages, format_action
from agentgym.registry import make, prompt_history_len
from agentgym.types import Messages


@dataclass
class Example:
    messages: Messages
    response: str


def collect_examples(env_id: str, episodes: int, seed: int = 0, explore: float = 0.0, split: str = "train",
                     history_len: int | None = None, env_kwargs: dict[str, Any] | None = None) -> list[Example]:
    """(prompt, expert response) for every step of ``episodes`` episodes that has an expert action."""
    history_len = prompt_history_len(env_id, history_len)
    env = make(env_id, split=split, **(env_kwargs or {}))
    rng = np.random.default_rng(seed)
    examples = []
    try:
        for episode in range(episodes):
            obs, info = env.reset(seed=seed + episode)
            history: list[HistoryItem] = []
            done = False
            while not done:
                expert = info.get("expert_action")
                admissible = info.get("admissible_actions")
                if expert is not None:
                    messages = build_messages(info.get("task"), obs, history, admissible, history_len)
                    examples.append(Example(messages, format_action(expert)))
                action = expert
                if admissible and (expert is None or rng.random() < explore):
                    action = str(admissible[int(rng.integers(len(admissible)))])
                if action is None:
                    break
                obs, _, terminated, truncated, info = env.step(action)
                history.append(HistoryItem(action, obs))
                done = terminated or truncated
    finally:
        env.close()
    return examples
