"""Sokoban's short rule: walk behind the nearest box and push it toward its nearest free target, never into a
corner that is not a target.

It reads the grid of the observation (``#`` wall, ``_`` floor, ``O`` target, ``X`` box, ``*`` box on a target,
``P``/``S`` you), which is all the agent is shown. Among the pushes that bring a box off its target closer (in
rows plus columns) to the nearest target without a box, onto a free cell that is not a non-target corner, it
takes the one whose push position the player reaches in the fewest moves, and answers the first move of that
walk (or the push). Greedy and memoryless: it solves most one-box rooms and can push boxes into subtler dead
ends or walk back and forth on two-box rooms.
"""

from __future__ import annotations

from collections import deque

from policies.heuristics.view import PromptView

MOVES = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}
SYMBOLS = set("#_OX*PS")
Cell = tuple[int, int]


def act(view: PromptView) -> str:
    rows = [line for line in view.observation.splitlines() if line and set(line) <= SYMBOLS and "#" in line]
    walls = {(r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch == "#"}
    targets = {(r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch in "O*S"}
    boxes = {(r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch in "X*"}
    player = next(((r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch in "PS"), None)
    if player is None:
        return "up"
    walk = _walks(player, walls | boxes)
    free_targets = targets - boxes
    best: tuple[int, str] | None = None
    for box in sorted(boxes - targets):
        for direction, (dr, dc) in MOVES.items():
            behind, ahead = (box[0] - dr, box[1] - dc), (box[0] + dr, box[1] + dc)
            if behind not in walk or ahead in walls or ahead in boxes or _bad_corner(ahead, walls, targets):
                continue
            if _nearest(ahead, free_targets) >= _nearest(box, free_targets):
                continue
            first = walk[behind][1] or direction  # already behind the box: push
            if best is None or walk[behind][0] < best[0]:
                best = (walk[behind][0], first)
    if best is not None:
        return best[1]
    return next((d for d in MOVES if d in view.admissible), "up")


def _walks(start: Cell, blocked: set[Cell]) -> dict[Cell, tuple[int, str | None]]:
    """Every cell the player reaches without pushing: (moves, the first move of a shortest walk there)."""
    out: dict[Cell, tuple[int, str | None]] = {start: (0, None)}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        for direction, (dr, dc) in MOVES.items():
            nxt = (cell[0] + dr, cell[1] + dc)
            if nxt not in out and nxt not in blocked and nxt[0] >= 0 and nxt[1] >= 0:
                out[nxt] = (out[cell][0] + 1, out[cell][1] or direction)
                queue.append(nxt)
    return out


def _nearest(cell: Cell, targets: set[Cell]) -> int:
    return min((abs(cell[0] - t[0]) + abs(cell[1] - t[1]) for t in targets), default=0)


def _bad_corner(cell: Cell, walls: set[Cell], targets: set[Cell]) -> bool:
    """A box here could never leave: a wall above or below and a wall left or right, and no target."""
    r, c = cell
    vertical = (r - 1, c) in walls or (r + 1, c) in walls
    horizontal = (r, c - 1) in walls or (r, c + 1) in walls
    return vertical and horizontal and cell not in targets
