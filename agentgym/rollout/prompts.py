"""Per-step prompts and action parsing, shared by rollouts, SFT and evaluation.

Each step is its own single-turn chat (as in verl-agent): system instructions, the task, the last
K steps of history, the current observation and the admissible actions. The response gives its
reasoning, then exactly one ``<action>...</action>``.

Two prompt styles (``PromptFormat``): ``compact``, a one-line system prompt for small models trained
from scratch, and ``instruct``, for pretrained instruct models in the manner of verl-agent's
prompts: the environment's own introduction (``TextEnv.prompt_intro``), how many steps were taken,
reasoning inside ``<think>`` then the action inside ``<action>``, and generation stopped at
``</action>``. Both write the same user lines (``Task:``, ``Step i: ...``, ``Now:``, ``Admissible
actions:``), so the prompt-reading heuristics and the context guard treat them alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agentgym.core.registry import class_attribute
from agentgym.core.types import Messages

SYSTEM_PROMPT = (
    "You are an agent in a text environment. Think briefly if it helps, then give exactly one "
    "action inside <action></action>."
)
_ACTION_RE = re.compile(r"<action>(.*?)</action>", re.DOTALL | re.IGNORECASE)
MAX_ADMISSIBLE_SHOWN = 50
PROMPT_STYLES = ("compact", "instruct")
ACTION_STOP = "</action>"
INSTRUCT_RULES = (
    "At every step you are shown the task, how many steps you have taken, your most recent steps, the current "
    "observation and the actions admissible now. First reason briefly about the situation inside <think> </think>. "
    "Then give exactly one of the admissible actions inside <action> </action>, and nothing after it."
)


@dataclass(frozen=True)
class HistoryItem:
    action: str
    observation: str


@dataclass(frozen=True)
class PromptFormat:
    """How one step's prompt is written: the style (``PROMPT_STYLES``) and, for ``instruct``, the
    environment's introduction. ``prompt_format(env_id, style)`` builds it for an environment."""

    style: str = "compact"
    intro: str = ""

    def __post_init__(self) -> None:
        if self.style not in PROMPT_STYLES:
            raise ValueError(f"prompt_style must be one of {PROMPT_STYLES}, got {self.style!r}")

    @property
    def system_prompt(self) -> str:
        if self.style == "compact":
            return SYSTEM_PROMPT
        return f"{self.intro.strip()} {INSTRUCT_RULES}".strip()

    @property
    def stop(self) -> tuple[str, ...]:
        """Where generation ends: at the action's closing tag for ``instruct`` (nothing after it is read)."""
        return (ACTION_STOP,) if self.style == "instruct" else ()

    def build(self, task: str | None, observation: str, history: Sequence[HistoryItem] = (),
              admissible_actions: Sequence[str] | None = None, history_len: int = 2) -> Messages:
        return build_messages(task, observation, history, admissible_actions, history_len, self.system_prompt,
                              count_steps=self.style == "instruct")


def prompt_format(env_id: str | None, style: str = "compact") -> PromptFormat:
    """The prompt format of ``style`` for an environment: its ``prompt_intro``, else a generic introduction."""
    if style != "instruct":
        return PromptFormat(style)
    intro = class_attribute(env_id, "prompt_intro", "") if env_id else ""
    return PromptFormat(style, intro or "You are an agent acting in a text environment"
                        + (f" ({env_id})." if env_id else "."))


def build_messages(task: str | None, observation: str, history: Sequence[HistoryItem] = (),
                   admissible_actions: Sequence[str] | None = None, history_len: int = 2,
                   system_prompt: str = SYSTEM_PROMPT, count_steps: bool = False) -> Messages:
    """The chat for one step; ``history`` is every earlier (action, observation that followed) of the episode.

    The last step's observation is ``observation`` itself, so its line shows only the action: a long
    observation (a TextWorld room, a WebShop page) appears once per prompt, not twice. ``count_steps``
    adds a line saying how many steps were taken and how many of them are shown (the instruct style).
    """
    lines = []
    if task:
        lines.append(f"Task: {task}")
    recent = list(history)[-history_len:] if history_len > 0 else []
    first = len(history) - len(recent)
    if count_steps:
        shown = f"; the last {len(recent)} of them:" if recent else "."
        lines.append(f"You have taken {len(history)} step(s) so far{shown}")
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
