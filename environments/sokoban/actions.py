"""The agent's four moves read leniently: 'Up', ' move LEFT. ', 'push right', 'north' and 'u' all count."""

from __future__ import annotations

import re

from environments.sokoban.room import DIRECTIONS

_ALIASES = {"u": "up", "north": "up", "d": "down", "south": "down", "l": "left", "west": "left",
            "r": "right", "east": "right"}
_FILLER = {"go", "move", "walk", "step", "push", "pull", "the", "box", "to", "i", "will", "please"}


def parse_move(action: str) -> str | None:
    """'Move Up.' -> 'up'; None unless the text names exactly one direction (filler words aside)."""
    words = [w for w in re.findall(r"[a-z]+", action.lower()) if w not in _FILLER]
    if len(words) != 1:
        return None
    word = _ALIASES.get(words[0], words[0])
    return word if word in DIRECTIONS else None
