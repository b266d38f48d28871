"""Grid helpers shared by the toy-text environments: directions, parsing and shortest paths."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable

Pos = tuple[int, int]

MOVES: dict[str, Pos] = {"north": (-1, 0), "south": (1, 0), "east": (0, 1), "west": (0, -1)}
_ALIASES = {"n": "north", "up": "north", "s": "south", "down": "south", "e": "east", "right": "east",
            "w": "west", "left": "west"}
_FILLER = {"go", "move", "walk", "step", "head", "to", "the", "please", "i", "will"}


def parse_direction(action: str) -> str | None:
    """'Go North.' -> 'north'; None when the text is not exactly one direction command."""
    words = [w for w in re.findall(r"[a-z]+", action.lower()) if w not in _FILLER]
    if len(words) != 1:
        return None
    word = _ALIASES.get(words[0], words[0])
    return word if word in MOVES else None


def neighbour(pos: Pos, direction: str) -> Pos:
    dr, dc = MOVES[direction]
    return pos[0] + dr, pos[1] + dc


def shortest_path(start: Pos, goal: Pos, passable: Callable[[Pos], bool]) -> list[str] | None:
    """Directions of one shortest path (BFS, ties broken in MOVES order), or None if unreachable."""
    parents: dict[Pos, tuple[Pos, str] | None] = {start: None}
    queue = deque([start])
    while queue:
        pos = queue.popleft()
        if pos == goal:
            path = []
            while parents[pos] is not None:
                pos, move = parents[pos]
                path.append(move)
            return path[::-1]
        for direction in MOVES:
            nxt = neighbour(pos, direction)
            if nxt not in parents and passable(nxt):
                parents[nxt] = (pos, direction)
                queue.append(nxt)
    return None
