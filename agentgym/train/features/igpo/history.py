"""The prompt IGPO's belief is scored on: step i's own prompt with the whole episode so far, not the rollout's
window of the last ``history_len`` steps.

With a window, a step that pushes an old observation out of the prompt shows a belief drop that no action
caused (the evidence is still in the episode, only no longer shown), and the next turn's "gain" is measured
against it. Scoring every step on the full history makes p_i the belief given everything seen before step i.

The full prompt is rebuilt with the rollout's own ``build_messages`` from the trajectory: each earlier step's
action and the observation that followed it (the next step's ``observation``). The rebuild first reproduces
the step's recorded prompt at its window; when it cannot (a prompt the context guard shortened, another
prompt format, admissible actions that do not round-trip), the step keeps its recorded prompt and is counted.
"""

from __future__ import annotations

from agentgym.core.types import Messages, Trajectory
from agentgym.rollout.prompts import HistoryItem, build_messages

NO_ACTION = "(no valid action)"  # what the rollout writes into the history for an unparsable response
ADMISSIBLE = "Admissible actions: "


def full_history_prompt(traj: Trajectory, i: int) -> tuple[Messages | None, bool]:
    """(step i's prompt showing every earlier step, or None when it already did; whether the rebuild worked).

    ``(None, True)``: the recorded prompt already holds the whole history (nothing to rebuild).
    ``(None, False)``: the recorded prompt could not be reproduced, so it cannot be extended.
    """
    step = traj.steps[i]
    messages = step.prompt
    if len(messages) != 2 or messages[0].get("role") != "system" or messages[1].get("role") != "user":
        return None, False
    history = [HistoryItem(s.action if s.format_valid else NO_ACTION, traj.steps[k + 1].observation)
               for k, s in enumerate(traj.steps[:i])]
    content = messages[1]["content"]
    lines = content.split("\n")
    shown = sum(line.startswith("Step ") for line in lines)
    if shown >= len(history):
        return None, True
    admissible = next((line[len(ADMISSIBLE):].split(", ") for line in lines if line.startswith(ADMISSIBLE)), None)
    task = lines[0][len("Task: "):] if lines[0].startswith("Task: ") else None
    count_steps = any(line.startswith("You have taken ") for line in lines)
    system = messages[0]["content"]
    if build_messages(task, step.observation, history, admissible, shown, system, count_steps) != messages:
        return None, False
    return build_messages(task, step.observation, history, admissible, len(history), system, count_steps), True
