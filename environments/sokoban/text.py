"""What the agent reads: the room as a grid of symbols, the legend, and what each of its four moves would do."""

from __future__ import annotations

from environments.sokoban.room import DIRECTIONS, Room, State

LEGEND = "# wall, _ floor, O target, X box, * box on a target, P you, S you on a target"
OUTCOME_WORDS = {"walk": "walk", "push": "push the box", "wall": "a wall, nothing moves",
                 "blocked": "the box cannot move, nothing moves"}


def grid(room: Room, state: State) -> str:
    """One line per row, row 1 at the top (the ``state_key`` too: it is the whole position)."""
    boxes = set(state.boxes)
    rows = []
    for r in range(room.height):
        row = []
        for c in range(room.width):
            cell = r * room.width + c
            if cell in room.walls:
                row.append("#")
            elif cell == state.player:
                row.append("S" if cell in room.targets else "P")
            elif cell in boxes:
                row.append("*" if cell in room.targets else "X")
            else:
                row.append("O" if cell in room.targets else "_")
        rows.append("".join(row))
    return "\n".join(rows)


def options(room: Room, state: State) -> str:
    """'Up: push the box onto a target. Down: a wall, nothing moves. ...': each move's effect, one sentence each."""
    parts = []
    for direction in DIRECTIONS:
        _, outcome = room.move(state, direction)
        words = OUTCOME_WORDS[outcome]
        if outcome == "push":
            box = state.player + room.offsets[direction]
            if box + room.offsets[direction] in room.targets:
                words += " onto a target"
            elif box in room.targets:
                words += " off its target"
        parts.append(f"{direction.capitalize()}: {words}.")
    return " ".join(parts)


def describe(room: Room, state: State) -> str:
    on = sum(b in room.targets for b in state.boxes)
    return (f"{grid(room, state)}\nLegend: {LEGEND}.\nBoxes on targets: {on} of {len(state.boxes)}.\n"
            f"Your options: {options(room, state)}")
