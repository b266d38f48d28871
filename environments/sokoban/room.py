"""A Sokoban room (walls and targets, fixed) and a state (where the player and the boxes are, moving).

Cells are flat indices ``row * width + col``; every room is closed by walls, so a step from any floor cell
stays inside the grid and a move is one addition.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

DIRECTIONS = ("up", "down", "left", "right")  # the action words, in the order every search tries them


@dataclass(frozen=True)
class State:
    """The player's cell and the boxes' cells (sorted, so equal positions are equal states)."""

    player: int
    boxes: tuple[int, ...]

    def with_push(self, box: int, to: int) -> State:
        """The player steps onto ``box``'s cell and the box moves to ``to``."""
        return State(box, tuple(sorted(to if b == box else b for b in self.boxes)))


@dataclass(frozen=True)
class Room:
    """Walls and targets of a ``height`` x ``width`` room closed by walls on its border."""

    height: int
    width: int
    walls: frozenset[int]
    targets: frozenset[int]

    def __post_init__(self) -> None:
        border = {c for c in range(self.height * self.width)
                  if c // self.width in (0, self.height - 1) or c % self.width in (0, self.width - 1)}
        if not border <= self.walls:
            raise ValueError("a room must be closed: every border cell is a wall")
        if self.targets & self.walls or not self.targets:
            raise ValueError("targets must be floor cells, and there must be at least one")

    @cached_property
    def offsets(self) -> dict[str, int]:
        return {"up": -self.width, "down": self.width, "left": -1, "right": 1}

    @cached_property
    def floor(self) -> tuple[int, ...]:
        return tuple(c for c in range(self.height * self.width) if c not in self.walls)

    def is_floor(self, cell: int) -> bool:
        return cell not in self.walls

    def row_col(self, cell: int) -> tuple[int, int]:
        return divmod(cell, self.width)

    def solved(self, state: State) -> bool:
        return all(b in self.targets for b in state.boxes)

    def move(self, state: State, direction: str) -> tuple[State, str]:
        """The state after one action and what happened: 'walk', 'push', 'wall' or 'blocked' (a box that
        cannot move: a wall or another box behind it). Nothing moves on 'wall' and 'blocked'."""
        step = self.offsets[direction]
        nxt = state.player + step
        if nxt in self.walls:
            return state, "wall"
        if nxt not in state.boxes:
            return State(nxt, state.boxes), "walk"
        beyond = nxt + step
        if beyond in self.walls or beyond in state.boxes:
            return state, "blocked"
        return state.with_push(nxt, beyond), "push"

    @classmethod
    def parse(cls, text: str) -> tuple[Room, State]:
        """A room and state from rows of the grid symbols (``text.LEGEND``): '#' wall, '_' or ' ' floor, 'O'
        target, 'X' box, '*' box on a target, 'P' player, 'S' player on a target. Rows may differ in length
        (the missing cells are walls)."""
        rows = [row for row in text.strip("\n").splitlines() if row.strip()]
        width = max(len(r) for r in rows)
        walls, targets, boxes, players = set(), set(), [], []
        for r, row in enumerate(rows):
            for c, ch in enumerate(row.ljust(width, "#")):
                cell = r * width + c
                if ch not in "#_ OX*PS":
                    raise ValueError(f"unknown symbol {ch!r} at row {r + 1}, column {c + 1}")
                if ch == "#":
                    walls.add(cell)
                if ch in "O*S":
                    targets.add(cell)
                if ch in "X*":
                    boxes.append(cell)
                if ch in "PS":
                    players.append(cell)
        if len(players) != 1 or len(boxes) != len(targets):
            raise ValueError(f"need one player and as many boxes as targets; got {len(players)} players, "
                             f"{len(boxes)} boxes, {len(targets)} targets")
        return cls(len(rows), width, frozenset(walls), frozenset(targets)), State(players[0], tuple(sorted(boxes)))
