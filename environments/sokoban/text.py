"""What the agent reads: the room as a grid of symbols, the legend, where the boxes and free targets are, and
what each of its four moves would do."""

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


def offset(room: Room, frm: int, to: int) -> str:
    """'2 rows down and 1 column left': where ``to`` lies seen from ``frm``."""
    (r0, c0), (r1, c1) = room.row_col(frm), room.row_col(to)
    parts = []
    if r1 != r0:
        parts.append(f"{abs(r1 - r0)} row{'s' if abs(r1 - r0) > 1 else ''} {'down' if r1 > r0 else 'up'}")
    if c1 != c0:
        parts.append(f"{abs(c1 - c0)} column{'s' if abs(c1 - c0) > 1 else ''} {'right' if c1 > c0 else 'left'}")
    return " and ".join(parts) or "here"


def positions(room: Room, state: State) -> str:
    """One sentence per box off its target: where it is from you, and where the nearest free target is from
    it (rows plus columns; walls not counted). What the grid shows, said in words a small model can use."""
    free = sorted(room.targets - set(state.boxes))
    sentences = []
    for box in (b for b in state.boxes if b not in room.targets):
        target = min(free, key=lambda t: (sum(abs(a - b) for a, b in zip(room.row_col(t), room.row_col(box))), t))
        sentences.append(f"A box is {offset(room, state.player, box)} of you; the nearest free target is "
                         f"{offset(room, box, target)} of it.")
    return " ".join(sentences)


def describe(room: Room, state: State, with_positions: bool = True) -> str:
    on = sum(b in room.targets for b in state.boxes)
    where = f"{positions(room, state)}\n" if with_positions and on < len(state.boxes) else ""
    return (f"{grid(room, state)}\nLegend: {LEGEND}.\nBoxes on targets: {on} of {len(state.boxes)}.\n{where}"
            f"Your options: {options(room, state)}")
