"""Per-step prompts and action parsing, shared by rollouts, SFT and evaluation.

Each step is its own single-turn chat (as in verl-agent): system instructions, the task, the last
K steps of history, the current observation and the admissible actions. The response gives its
reasoning, then exactly one ``<action>...</action>``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agentgym.core.types import Messages

SYSTEM_PROMPT = (
    "You are an agent in a text environment. Think briefly if it helps, then give exactly one "
    "action inside <action></action>."
)
_ACTION_RE = re.compile(r"<action>(.*?)</action>", re.DOTALL | re.IGNORECASE)
MAX_ADMISSIBLE_SHOWN = 50


@dataclass(frozen=True)
class HistoryItem:
    action: str
    observation: str


def build_messages(task: str | None, observation: str, history: Sequence[HistoryItem] = (),
                   admissible_actions: Sequence[str] | None = None, history_len: int = 2,
                   system_prompt: str = SYSTEM_PROMPT) -> Messages:
    """The chat for one step; ``history`` is every earlier (action, observation that followed) of the episode.

    The last step's observation is ``observation`` itself, so its line shows only the action: a long
    observation (a TextWorld room, a WebShop page) appears once per prompt, not twice.
    """
    lines = []
    if task:
        lines.append(f"Task: {task}")
    recent = list(history)[-history_len:] if history_len > 0 else []
    first = len(history) - len(recent)
    for i, item in enumerate(recent, start=first + 1):
        seen = f" You saw: {item.observation}" if i < len(history) else ""
        lines.append(f"Step {i}: you did {item.action!r}.{seen}")
    lines.append(f"Now: {observation}")
    if admissible_actions:
        shown = list(admissible_actions)[:MAX_ADMISSIBLE_SHOWN]
        lines.append("Admissible actions: " + ", ".join(shown))
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": "\n".join(lines)}]


def parse_action(response: str) -> str | None:
    """The text inside the last ``<action>...</action>``, stripped; None when there is none."""
    matches = _ACTION_RE.findall(response or "")
    if not matches:
        return None
    action = matches[-1].strip()
    return action or None


def format_action(action: str, reasoning: str = "") -> str:
    """A well-formed response for ``action`` (expert demonstrations for SFT use this)."""
    prefix = f"{reasoning.strip()}\n" if reasoning else ""
    return f"{prefix}<action>{action}</action>"
