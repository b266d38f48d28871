"""Solvable rooms from a task seed, made as gym-sokoban makes them: carve a room, put every box on a target,
then play backwards (the player walks and pulls boxes) and start the game where the boxes ended up farthest
from the targets. Pulls are pushes played in reverse, so the start can be solved by construction; the solver
checks it anyway (and gives the optimal length the step limit is set from) before the room is used.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from environments.sokoban.room import Room, State
from environments.sokoban.solver import SearchLimit, solve

SHAPES = (((0, 0),), ((0, 0), (0, 1)), ((0, 0), (1, 0)), ((0, 0), (0, 1), (1, 0), (1, 1)),
          ((0, 0), (1, 0), (1, 1)))  # stamps the random walk carves: a cell, two cells, a square, an L
TURN_PROB = 0.35  # the carving walk changes direction this often
REVERSE_NODES = 5_000  # the backward search stops growing past this many positions
VERIFY_NODES = 50_000  # a start the solver cannot decide within this many positions is thrown away


@lru_cache(maxsize=8192)
def generate(size: int, boxes: int, seed: int) -> tuple[Room, State, int]:
    """(room, start, fewest moves that solve it) for a ``size`` x ``size`` room (border walls included) with
    ``boxes`` boxes; the same arguments always give the same room."""
    if size < 5 or boxes < 1:
        raise ValueError(f"rooms need size >= 5 and at least one box, got size {size}, {boxes} boxes")
    rng = np.random.default_rng([size, boxes, seed])
    for _ in range(1000):
        floor = _carve(size, rng)
        if len(floor) < 2 * boxes + 3:
            continue
        targets = [int(c) for c in rng.permutation(sorted(floor))[:boxes]]
        walls = frozenset(range(size * size)) - floor
        room = Room(size, size, walls, frozenset(targets))
        found = _play_backwards(room, tuple(sorted(targets)), rng)
        if found is None:
            continue
        start, depth = found
        try:
            moves = solve(room, start, VERIFY_NODES)
        except SearchLimit:
            continue
        if moves is None or len(moves) != depth:  # two independent searches must agree on the fewest moves
            raise RuntimeError(f"solver ({moves and len(moves)} moves) and backward search ({depth}) disagree "
                               f"on the {size}x{size} room with {boxes} boxes, seed {seed}")
        return room, start, depth
    raise RuntimeError(f"no solvable {size}x{size} room with {boxes} boxes after 1000 tries (seed {seed})")


def _carve(size: int, rng: np.random.Generator) -> frozenset[int]:
    """Floor cells stamped by a random walk inside the border."""
    inner = size - 2
    r, c = (int(x) for x in rng.integers(1, size - 1, 2))
    dr, dc = ((-1, 0), (1, 0), (0, -1), (0, 1))[int(rng.integers(4))]
    floor = set()
    for _ in range(2 * inner * inner):
        for sr, sc in SHAPES[int(rng.integers(len(SHAPES)))]:
            if 1 <= r + sr <= inner and 1 <= c + sc <= inner:
                floor.add((r + sr) * size + c + sc)
        if rng.random() < TURN_PROB:
            dr, dc = ((-1, 0), (1, 0), (0, -1), (0, 1))[int(rng.integers(4))]
        r, c = min(max(r + dr, 1), inner), min(max(c + dc, 1), inner)
    return frozenset(floor)


def _play_backwards(room: Room, targets: tuple[int, ...], rng: np.random.Generator) -> tuple[State, int] | None:
    """Play backwards from every solved position at once, breadth-first (the player walks, or walks and pulls
    the box behind it), so a position's depth is the fewest moves that solve it. Returns a random position of
    the deepest layer reached within ``REVERSE_NODES`` positions that has no box on a target, with its depth."""
    layer = [State(p, targets) for p in room.floor if p not in targets]
    seen = set(layer)
    deepest: tuple[list[State], int] | None = None
    depth = 0
    while layer and len(seen) < REVERSE_NODES:
        depth += 1
        nxt = []
        for state in layer:
            for step in room.offsets.values():
                ahead, behind = state.player + step, state.player - step
                if ahead in room.walls or ahead in state.boxes:
                    continue
                children = [State(ahead, state.boxes)]
                if behind in state.boxes:
                    children.append(State(ahead, tuple(sorted(state.player if b == behind else b
                                                              for b in state.boxes))))
                for child in children:
                    if child not in seen:
                        seen.add(child)
                        nxt.append(child)
        unsolved = [s for s in nxt if not any(b in room.targets for b in s.boxes)]
        if unsolved:
            deepest = (unsolved, depth)
        layer = nxt
    if deepest is None:
        return None
    states, depth = deepest
    return states[int(rng.integers(len(states)))], depth
