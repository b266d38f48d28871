"""FrozenLake in words: cross a frozen lake to the goal without falling through a hole."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from agentgym.core.env import Outcome, TextEnv
from environments.toytext.grid import MOVES, Pos, neighbour, parse_direction, shortest_path

SEED_BASE = {"train": 0, "valid_seen": 1_000_000, "valid_unseen": 2_000_000}
DEFAULT_SIZES = {"train": (4, 5, 6), "valid_seen": (4, 5, 6), "valid_unseen": (7, 8)}
DEFAULT_COUNTS = {"train": 2000, "valid_seen": 100, "valid_unseen": 100}
DIAGONALS = (("north", "east"), ("north", "west"), ("south", "east"), ("south", "west"))
TILE_WORDS = {"F": "ice", "H": "a hole", "G": "the goal", "S": "ice"}


@lru_cache(maxsize=4096)
def generate_map(size: int, map_seed: int, hole_prob: float) -> tuple[str, ...]:
    """A solvable size x size map with random start S and goal G at least ``size - 1`` moves apart."""
    rng = np.random.default_rng(map_seed)
    while True:
        tiles = np.where(rng.random((size, size)) < hole_prob, "H", "F")
        start, goal = (tuple(int(x) for x in divmod(int(i), size)) for i in rng.choice(size * size, 2, replace=False))
        tiles[start], tiles[goal] = "S", "G"
        rows = tuple("".join(row) for row in tiles)
        path = shortest_path(start, goal, lambda p, rows=rows: _inside(p, size) and rows[p[0]][p[1]] != "H")
        if path is not None and len(path) >= size - 1:
            return rows


def _inside(pos: Pos, size: int) -> bool:
    return 0 <= pos[0] < size and 0 <= pos[1] < size


class FrozenLakeText(TextEnv):
    """
    ## Description
    Gymnasium's FrozenLake told in words, on random maps. The agent walks a grid of ice and holes
    from a start tile to a goal tile; it sees its position, the goal's position and the four
    neighbouring tiles. Moves are deterministic, so states are revisited and anchor-state grouping
    (GiGPO) has something to group.

    ## Observation
    Text: "You are at row 2, column 3. The goal is 2 rows south and 1 column east. North: ice.
    South: a hole. East: ice. West: the edge of the lake." Rows and columns count from 1 at the top
    left; the goal is given as a compass offset, so a small model can learn to follow it.

    ## Actions
    ``north``, ``south``, ``east``, ``west`` (also "go north", "up", "n"). Walking off the lake
    bumps the edge (valid, nothing moves). Anything else is invalid and explained.

    ## Rewards
    1.0 on reaching the goal, 0 otherwise.

    ## Starting State
    The map's start tile; maps are generated from the task id and always solvable.

    ## Episode End
    Terminated on the goal (success) or a hole (failure); truncated after ``max_steps``
    (default 4 x size).

    ## Splits
    ``train`` (2000 maps) and ``valid_seen`` (100) draw 4x4-6x6 maps from disjoint seed ranges;
    ``valid_unseen`` (100) uses larger 7x7 and 8x8 maps.

    ## Arguments
    ``split``, ``max_steps``, ``hole_prob`` (0.2), ``sizes`` (override map sizes), ``num_tasks``.

    ## Prompts
    Prompts show no history by default (``prompt_history_len = 0``): the observation is the whole
    decision state. With two history lines the tiny default model walked into an adjacent hole
    about 40% of the time, against about 20% without them, and each update was about 4x slower.

    ## Version History
    * v1: the agent sees the 3x3 square around it (the four diagonal tiles too), no coordinates, and the goal's
      direction without distances ("south and east, farther south") (``FrozenLakeTextV1``); the main job's.
    * v0: initial version; ``diagonals=True, coordinates=False, distances=False`` make v1's observation.
    """

    prompt_history_len = 0  # fully observed: position, goal offset and the four neighbours are in every observation
    prompt_intro = (
        "You walk across a frozen lake of tiles to reach the goal tile without stepping into a hole; each "
        "step moves you one tile north, south, east or west."
    )

    def __init__(self, split: str = "train", max_steps: int | None = None, hole_prob: float = 0.2,
                 sizes: Sequence[int] | None = None, num_tasks: int | None = None, render_mode: str | None = None,
                 coordinates: bool = True, diagonals: bool = False, distances: bool = True):
        super().__init__(split=split, max_steps=max_steps, render_mode=render_mode)
        self.hole_prob = float(hole_prob)
        self.coordinates, self.diagonals, self.distances = bool(coordinates), bool(diagonals), bool(distances)
        self.sizes = tuple(sizes or DEFAULT_SIZES[split])
        count = int(num_tasks or DEFAULT_COUNTS[split])
        base = SEED_BASE[split]
        self._ids = [f"{self.sizes[i % len(self.sizes)]}x{self.sizes[i % len(self.sizes)]}-{base + i}"
                     for i in range(count)]
        self._fixed_max_steps = max_steps
        self.rows: tuple[str, ...] = ()
        self.pos: Pos = (0, 0)
        self.goal: Pos = (0, 0)

    def task_ids(self) -> Sequence[str]:
        return self._ids

    def load_task(self, task_id: str) -> None:
        dims, seed = task_id.split("-")
        size = int(dims.split("x")[0])
        self.rows = generate_map(size, int(seed), self.hole_prob)
        self.pos = self._find("S")
        self.goal = self._find("G")
        self.max_steps = int(self._fixed_max_steps or 4 * size)

    def _find(self, tile: str) -> Pos:
        for r, row in enumerate(self.rows):
            if tile in row:
                return r, row.index(tile)
        raise ValueError(f"map has no {tile!r} tile")

    @property
    def size(self) -> int:
        return len(self.rows)

    def _tile(self, pos: Pos) -> str | None:
        return self.rows[pos[0]][pos[1]] if _inside(pos, self.size) else None

    def _describe(self) -> str:
        r, c = self.pos
        around = []
        for direction in MOVES:
            tile = self._tile(neighbour(self.pos, direction))
            around.append(f"{direction.capitalize()}: {TILE_WORDS[tile] if tile else 'the edge of the lake'}.")
        for vertical, horizontal in (DIAGONALS if self.diagonals else ()):
            tile = self._tile(neighbour(neighbour(self.pos, vertical), horizontal))
            around.append(f"{(vertical + horizontal).capitalize()}: {TILE_WORDS[tile] if tile else 'the edge of the lake'}.")
        where = f"You are at row {r + 1}, column {c + 1}. " if self.coordinates else ""
        return where + f"The goal is {self._goal_offset()}. " + " ".join(around)

    def _goal_offset(self) -> str:
        """'2 rows south and 1 column east': a compass reading, as a person would give directions."""
        dr, dc = self.goal[0] - self.pos[0], self.goal[1] - self.pos[1]
        parts = []
        if dr:
            parts.append(f"{abs(dr)} row{'s' if abs(dr) > 1 else ''} {'south' if dr > 0 else 'north'}")
        if dc:
            parts.append(f"{abs(dc)} column{'s' if abs(dc) > 1 else ''} {'east' if dc > 0 else 'west'}")
        if self.distances:
            return " and ".join(parts) or "here"
        if len(parts) < 2:
            return _direction_only(dr, dc)
        longer = ("south" if dr > 0 else "north") if abs(dr) > abs(dc) else ("east" if dc > 0 else "west")
        farther = f"farther {longer}" if abs(dr) != abs(dc) else "as far each way"
        return f"{'south' if dr > 0 else 'north'} and {'east' if dc > 0 else 'west'}, {farther}"

    def first_observation(self) -> str:
        return f"You stand on a frozen lake of {self.size}x{self.size} tiles. " + self._describe()

    def apply(self, action: str) -> Outcome:
        direction = parse_direction(action)
        if direction is None:
            return Outcome(f"{action[:80]!r} is not a move. Valid actions: north, south, east, west. "
                           + self._describe(), action_valid=False)
        target = neighbour(self.pos, direction)
        tile = self._tile(target)
        if tile is None:
            return Outcome(f"You cannot go {direction}: the lake ends there. " + self._describe())
        self.pos = target
        if tile == "H":
            return Outcome(f"You went {direction} and fell through a hole. Game over.", terminated=True)
        if tile == "G":
            return Outcome(f"You went {direction} and reached the goal!", reward=1.0, terminated=True, success=True)
        return Outcome(f"You went {direction}. " + self._describe())

    def _expert_path(self) -> list[str] | None:
        if self._tile(self.pos) in ("H", "G"):
            return None
        return shortest_path(self.pos, self.goal, lambda p: self._tile(p) not in (None, "H"))

    def state_info(self) -> dict:
        path = self._expert_path()
        admissible = [d for d in MOVES if self._tile(neighbour(self.pos, d)) is not None]
        gr, gc = self.goal
        return {
            "task": f"Walk to the goal at row {gr + 1}, column {gc + 1} without falling into a hole." if self.coordinates
            else "Walk to the goal without falling into a hole.",
            "task_type": f"{self.size}x{self.size}",
            "admissible_actions": admissible,
            "state_key": f"row {self.pos[0] + 1}, column {self.pos[1] + 1}",
            "expert_action": path[0] if path else None,
            "expert_steps_left": len(path) if path is not None else None,
        }


def _direction_only(dr: int, dc: int) -> str:
    """'straight south' for a goal on one axis ('here' on it), whatever the distance."""
    if dr:
        return f"straight {'south' if dr > 0 else 'north'}"
    return f"straight {'east' if dc > 0 else 'west'}" if dc else "here"


class FrozenLakeTextV1(FrozenLakeText):
    """FrozenLake-v1: v0's maps and rules, seen as the 3x3 square around the agent plus the goal's offset.

    Why: v0's expert plans over the whole map, while the agent sees four tiles, so which way round a hole
    the expert goes is often not in the observation; the diagonal tiles show whether the next step after a
    sideways move leads on. Coordinates and distances go: the goal's direction ("south and east, farther
    south") is what a step needs, absolute positions only let a policy memorise training maps, and counts
    above the training maps' (valid_unseen's 7x7 and 8x8 offsets reach 7) are numbers the policy never saw.
    Same splits and maps as v0.
    """

    def __init__(self, split: str = "train", max_steps: int | None = None, hole_prob: float = 0.2,
                 sizes: Sequence[int] | None = None, num_tasks: int | None = None, render_mode: str | None = None,
                 coordinates: bool = False, diagonals: bool = True, distances: bool = False):
        super().__init__(split=split, max_steps=max_steps, hole_prob=hole_prob, sizes=sizes, num_tasks=num_tasks,
                         render_mode=render_mode, coordinates=coordinates, diagonals=diagonals, distances=distances)
