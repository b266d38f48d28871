"""What the agent saw at one step, read back from its prompt (``agentgym.rollout.prompts.build_messages``).

Heuristic baselines read this and nothing else, so they see exactly what the language model sees:
no ``info`` field that the prompt does not show (no expert, no map, no state key).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agentgym.core.types import Messages

_HISTORY_LINE = re.compile(r"^Step (\d+): you did (.*?)\.(?: You saw: (.*))?$")
_ADMISSIBLE = "\nAdmissible actions: "
_NOW = "Now: "


@dataclass(frozen=True)
class PromptView:
    task: str
    observation: str
    admissible: tuple[str, ...]
    past_actions: tuple[str, ...]  # the actions of the history lines the prompt shows, oldest first

    @classmethod
    def of(cls, messages: Messages) -> PromptView:
        user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
        head, sep, admissible = user.rpartition(_ADMISSIBLE)
        if not sep:  # no admissible list shown
            head, admissible = user, ""
        before, sep, observation = head.rpartition("\n" + _NOW)
        if not sep:  # the "Now:" line is the first line (no task, no history)
            before, observation = "", head.removeprefix(_NOW)
        task, past = "", []
        for line in before.splitlines():
            if line.startswith("Task: "):
                task = line.removeprefix("Task: ")
            elif match := _HISTORY_LINE.match(line):
                past.append(_unquote(match.group(2)))
        actions = tuple(a.strip() for a in admissible.split(", ") if a.strip()) if admissible else ()
        return cls(task, observation, actions, tuple(past))


def _unquote(text: str) -> str:
    """The history line writes the action with ``repr``: 'go north' -> go north."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text
