"""Positions that can never be solved, found cheaply and soundly (a flagged position is truly lost).

Two classic tests (the Sokoban wiki's "simple" and "freeze" deadlocks):

* a box on a *dead square*: a floor cell from which no target can be reached by pushing, even with every
  other box gone (a corner that is not a target, a wall side with no target along it);
* a *frozen* box off its target: it can move along neither axis, because a wall, another frozen box, or dead
  squares on both sides block each axis.

Both are sound, not complete: a position that neither test flags may still be lost (the solver then finds no
plan). The solver prunes with them, and the environment ends an episode on them.
"""

from __future__ import annotations

from collections import deque
from functools import lru_cache

from environments.sokoban.room import Room, State


@lru_cache(maxsize=4096)
def push_distances(room: Room) -> dict[int, int]:
    """Fewest pushes that bring a box from each cell to the nearest target, other boxes ignored; a cell that
    is missing is a dead square. Found by pulling boxes backwards from the targets."""
    dist = dict.fromkeys(room.targets, 0)
    queue = deque(sorted(room.targets))
    while queue:
        cell = queue.popleft()
        for step in room.offsets.values():
            # a box pushed by `step` arrives at `cell` from `cell - step`, the player standing at `cell - 2 step`
            before, player = cell - step, cell - 2 * step
            if before not in dist and room.is_floor(before) and room.is_floor(player):
                dist[before] = dist[cell] + 1
                queue.append(before)
    return dist


def dead_squares(room: Room) -> frozenset[int]:
    distances = push_distances(room)
    return frozenset(c for c in room.floor if c not in distances)


def deadlock_reason(room: Room, state: State) -> str | None:
    """Why ``state`` can no longer be solved ("the box at row 2, column 3 is in a corner ..."), or None when
    neither test finds a deadlock."""
    distances = push_distances(room)
    boxes = set(state.boxes)
    for box in state.boxes:
        if box not in distances:
            return f"the box at {_where(room, box)} can no longer be pushed to any target"
    for box in state.boxes:
        if box not in room.targets and _frozen(room, boxes, box, distances, frozenset()):
            return f"the box at {_where(room, box)} is stuck off its target and can never move again"
    return None


def _frozen(room: Room, boxes: set[int], box: int, distances: dict[int, int], held: frozenset[int]) -> bool:
    """True when ``box`` can move along neither axis; boxes in ``held`` (already under test) count as walls."""
    held = held | {box}
    for a, b in ((box - room.width, box + room.width), (box - 1, box + 1)):
        if not _axis_blocked(room, boxes, a, b, distances, held):
            return False
    return True


def _axis_blocked(room: Room, boxes: set[int], a: int, b: int, distances: dict[int, int],
                  held: frozenset[int]) -> bool:
    if not room.is_floor(a) or not room.is_floor(b) or a in held or b in held:
        return True  # a wall (or a box held still) on one side: no push along this axis
    if a not in distances and b not in distances:
        return True  # either push lands on a dead square: as good as blocked
    return any(side in boxes and _frozen(room, boxes, side, distances, held) for side in (a, b))


def _where(room: Room, cell: int) -> str:
    r, c = room.row_col(cell)
    return f"row {r + 1}, column {c + 1}"
