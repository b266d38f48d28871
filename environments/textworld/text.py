"""Text on the way in and out of a TextWorld game.

Commands: the Inform 7 interpreter behind every TextWorld game accepts meta commands (``restart``,
``quit``, ``save``, ``undo``) that would leave it waiting for a yes/no answer or out of step with
textworld's state tracker, debug commands (``tw-...``) that drive that tracker, and several
commands in one line ("take knife. open fridge"). A policy must play one in-world command per
step, so those are refused here with an explanation, before they reach the game.

Feedback: the first observation opens with a large ASCII-art banner, every one ends with the
command prompt ``>`` carrying the interpreter's status bar (room name, score/moves, e.g.
``-= Attic =-0/2``), and the last one ends with an interpreter question (RESTART, RESTORE, QUIT or
UNDO); all are noise to an agent (the move counter would even make equal states read differently)
and are removed.
"""

from __future__ import annotations

import re

MAX_COMMAND_CHARS = 200
META_VERBS = frozenset({
    "restart", "restore", "save", "quit", "q", "undo", "script", "transcript", "unscript", "noscript",
    "verify", "version", "brief", "verbose", "superbrief", "normal", "long", "short", "notify",
    "again", "g", "oops", "o", "y", "yes", "no",
})
DIRECTIONS = {"n": "north", "s": "south", "e": "east", "w": "west", "u": "up", "d": "down"}
VERB_ALIASES = {"x": "examine", "l": "look", "i": "inventory", "get": "take", "pick up": "take", "inv": "inventory"}
_SEPARATORS = re.compile(r"[.;!?]|\bthen\b")
_BANNER_CHARS = set(" _|\\/$")
_END_PROMPT = re.compile(r"Would you like to RESTART.*$", re.DOTALL)


def to_command(action: str) -> tuple[str, str | None]:
    """Return (command, problem): the canonical command to send, or why the action was refused."""
    text = " ".join(action.replace("\n", " ").replace("\t", " ").split()).strip()
    text = text.removeprefix(">").strip().strip("\"'`").rstrip(".!? ").strip().lower()
    if not text:
        return "", "The action was empty. Nothing happened."
    if not text.isascii():
        return "", "Commands must be plain English text (ASCII letters). Nothing happened."
    if len(text) > MAX_COMMAND_CHARS:
        return "", f"That command is {len(text)} characters long (limit {MAX_COMMAND_CHARS}). Nothing happened."
    if _SEPARATORS.search(text):
        return "", "Give one command per step (no '.', ';' or 'then'). Nothing happened."
    first = text.split()[0]
    if first in META_VERBS or first.startswith("tw-"):
        return "", f"{first!r} is a game-system command and is not available here. Nothing happened."
    return _expand_aliases(text), None


def _expand_aliases(text: str) -> str:
    """Inform 7 abbreviations -> the verbs textworld lists as admissible ("x box" -> "examine box")."""
    words = text.split()
    if len(words) == 1 and words[0] in DIRECTIONS.values():
        return f"go {words[0]}"
    if len(words) == 1 and words[0] in DIRECTIONS:
        return f"go {DIRECTIONS[words[0]]}"
    if len(words) == 2 and words[0] == "go" and words[1] in DIRECTIONS:
        return f"go {DIRECTIONS[words[1]]}"
    for alias, verb in VERB_ALIASES.items():
        if text == alias or text.startswith(alias + " "):
            return verb + text[len(alias):]
    return text


def clean_feedback(text: str) -> str:
    """The game's feedback without the ASCII-art banner and the end-of-game interpreter prompt."""
    text = _END_PROMPT.sub("", text or "")
    lines = [line.rstrip() for line in text.splitlines()]
    kept = [line for line in lines if not (line.strip() and set(line) <= _BANNER_CHARS)]
    while kept and (not kept[-1] or kept[-1].startswith(">")):  # the command prompt, with the status bar on it
        kept.pop()
    cleaned = "\n".join(kept)
    cleaned = re.sub(r"\n{3,}", "\n\n", cleaned).strip()
    return cleaned or "Nothing happens."
