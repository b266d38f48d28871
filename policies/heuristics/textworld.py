"""The TextWorld families' short rule: do what the task text asks, in the order it asks.

Every generated TextWorld quest spells its walkthrough out ("First, head north. Then, pick up the
coin from the floor ..."). The rule takes an admissible object command (take, open, unlock, put ...)
whose object the task names, earliest-named first; otherwise it walks the task's directions in order,
never straight back the way it came; otherwise it goes through any exit. It reads the task line, the
admissible actions and the last action the prompt shows.
"""

from __future__ import annotations

import re

from policies.heuristics.view import PromptView

DIRECTIONS = ("north", "south", "east", "west")
OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}
LOOKING = {"examine", "look", "inventory", "drop", "go"}  # commands that never advance a quest step
VERB_ORDER = {"open": 0, "unlock": 0, "take": 1, "put": 2, "insert": 2}  # on a tie, the quest's usual order
UNDO = {"open": "close", "close": "open", "take": "put", "put": "take", "insert": "take", "unlock": "lock",
        "lock": "unlock"}
_WORD = re.compile(r"[a-z]+")
_STOP = {"the", "a", "an", "of", "on", "in", "into", "from", "with", "to", "at"}


def act(view: PromptView) -> str:
    task = view.task.lower()
    last = view.past_actions[-1].lower() if view.past_actions else ""
    doable = [(first_mention(task, cmd), VERB_ORDER.get(cmd.split()[0].lower(), 9), cmd) for cmd in view.admissible
              if cmd.split()[0].lower() not in LOOKING and not undoes(cmd.lower(), last)]
    named = sorted((at, rank, cmd) for at, rank, cmd in doable if at is not None)
    if named:
        return named[0][2]
    exits = [cmd for cmd in view.admissible if cmd.lower().startswith("go ")]
    back = f"go {OPPOSITE[last[3:]]}" if last.startswith("go ") and last[3:] in OPPOSITE else None
    for direction in re.findall(r"\b(north|south|east|west)\b", task):
        if f"go {direction}" in exits and f"go {direction}" != back:
            return f"go {direction}"
    forward = [cmd for cmd in exits if cmd != back]
    return (forward or exits or list(view.admissible) or ["look"])[0]


def undoes(command: str, last: str) -> bool:
    """Repeating the last action, or reversing it on the same object ('put key in box' after 'take key')."""
    if command == last or not last:
        return command == last
    verb, _, rest = command.partition(" ")
    last_verb, _, last_rest = last.partition(" ")
    return UNDO.get(last_verb) == verb and rest.split(" ")[0] == last_rest.split(" ")[0]


def first_mention(task: str, command: str) -> int | None:
    """Where the task first names every content word of the command's object; None if it does not."""
    words = [w for w in _WORD.findall(command.lower())[1:] if w not in _STOP]
    places = [task.find(w) for w in words]
    return min(places) if words and min(places) >= 0 else None
