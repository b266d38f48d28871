"""Sokoban in words: push every box onto a target, on rooms generated to be solvable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from agentgym.core.env import Outcome, TextEnv
from agentgym.core.lazy_info import Deferred
from environments.sokoban.actions import parse_move
from environments.sokoban.deadlock import deadlock_reason
from environments.sokoban.expert import Expert
from environments.sokoban.generator import generate
from environments.sokoban.room import DIRECTIONS, Room, State
from environments.sokoban.text import describe, grid

SEED_BASE = {"train": 0, "valid_seen": 1_000_000, "valid_unseen": 2_000_000}
# (room size with its walls, boxes) per split; valid_unseen's 8x8 rooms never occur in the other two
DEFAULT_ROOMS = {"train": ((6, 1), (6, 2), (7, 1), (7, 2)), "valid_seen": ((6, 1), (6, 2), (7, 1), (7, 2)),
                 "valid_unseen": ((8, 1), (8, 2))}
DEFAULT_COUNTS = {"train": 2000, "valid_seen": 100, "valid_unseen": 100}
# gym-sokoban's reward, which RAGEN, verl-agent and GiGPO's Sokoban results use
STEP_COST, BOX_ON_TARGET, BOX_OFF_TARGET, SOLVED_BONUS = -0.1, 1.0, -1.0, 10.0
REWARDS = ("sokoban", "success")
MOVED = {"walk": "You moved {}.", "push": "You pushed the box {}.",
         "wall": "You cannot move {}: a wall is in the way.",
         "blocked": "You cannot push the box {}: a wall or another box is behind it."}


@lru_cache(maxsize=256)
def _expert(size: int, boxes: int, seed: int) -> Expert:
    """One plan memory per room, shared by every environment of the process that plays it."""
    return Expert(generate(size, boxes, seed)[0])


def parse_task_id(task_id: str) -> tuple[int, int, int]:
    """'6x6-b2-1000007' -> (6, 2, 1000007)."""
    dims, boxes, seed = task_id.split("-")
    return int(dims.split("x")[0]), int(boxes.removeprefix("b")), int(seed)


class SokobanEnv(TextEnv):
    """
    ## Description
    Sokoban told as a text grid: the agent walks a walled room and pushes boxes (never pulls them) until every
    box stands on a target. Rooms are generated from the task id by playing backwards from the solved position,
    so every room is solvable, and an A* solver over box pushes gives the expert's next move and the fewest
    moves left from any position. Moves are deterministic and positions recur, so anchor-state grouping
    (GiGPO) has something to group.

    ## Observation
    The room, one line per row (``#`` wall, ``_`` floor, ``O`` target, ``X`` box, ``*`` box on a target, ``P``
    you, ``S`` you on a target), the legend, how many boxes are on targets, where each box off its target is
    from you and where its nearest free target is from it ("A box is 1 row up and 2 columns left of you; the
    nearest free target is 2 rows down of it."; ``positions=False`` leaves this line out, for the grid alone as
    RAGEN shows it), and what each move would do now ("Up: push the box onto a target. Down: a wall, nothing
    moves. ..."). After a move the first sentence says what happened. Why the positions line: with the grid
    alone the offline tiny model's SFT loss sat at 0.34 through 600 steps (it never found the player in the
    grid); the grid stays, so nothing is hidden from a larger model.

    ## Actions
    ``up``, ``down``, ``left``, ``right`` (case, spaces, punctuation and filler words are ignored: "Move Up.",
    "push left"; also north/south/west/east and u/d/l/r). Walking into a wall or pushing a box that cannot move
    is a valid move that changes nothing. Any other text is invalid (``info["action_valid"] = False``), changes
    nothing and is answered with an explanation and the room.

    ## Rewards
    ``reward="sokoban"`` (default), gym-sokoban's reward that RAGEN, verl-agent and GiGPO report Sokoban with:
    -0.1 per step (any action, invalid ones included), +1 for pushing a box onto a target, -1 for pushing one
    off, +10 when the last box reaches its target. An episode that ends in a deadlock is also charged the step
    cost of the steps it cut short, so giving up early never pays better than playing on. ``reward="success"``:
    1.0 on solving, 0 otherwise (the project's sparse default). Success (``info["success"]``) is the headline;
    ``info["score"]`` is 1.0 on success, else 0.

    ## Starting State
    The room of the task id; its start is a position of the deepest layer of a backward breadth-first search
    from the solved room (with every box off its target), so it needs the most moves that search found.

    ## Episode End
    Terminated on success, and (``end_on_deadlock=True``, default) on a deadlock the cheap sound tests find: a
    box pushed where it can never reach a target, or frozen off its target (``environments.sokoban.deadlock``).
    Subtler lost positions are not detected; there the episode runs to the step limit and the expert keys are
    None. Truncated after ``max_steps`` (default twice the room's fewest moves plus 10).

    ## Splits
    Task ids are ``<size>x<size>-b<boxes>-<seed>``; seeds of the three splits come from disjoint ranges.
    ``train`` (2000 rooms) and ``valid_seen`` (100) cycle through 6x6 and 7x7 rooms with 1 and 2 boxes (sizes
    include the border walls); ``valid_unseen`` (100) uses unseen 8x8 rooms with 1 and 2 boxes.

    ## Arguments
    ``split``, ``max_steps``, ``rooms`` ((size, boxes) pairs replacing the split's, or a mapping from split to
    such pairs, e.g. ``{"train": [[6, 1]], "valid_seen": [[6, 1]], "valid_unseen": [[7, 1]]}``), ``num_tasks``,
    ``reward`` ("sokoban" or "success"), ``end_on_deadlock`` (True), ``positions`` (True).

    ## Prompts
    No history by default (``prompt_history_len = 0``): the grid is the whole position.

    ## Version History
    * v0: initial version.
    """

    prompt_history_len = 0
    prompt_intro = (
        "You play Sokoban in a walled room drawn as a grid: walk with up, down, left or right, push boxes by "
        "walking into them (you can never pull one), and get every box onto a target."
    )

    def __init__(self, split: str = "train", max_steps: int | None = None,
                 rooms: Sequence[Sequence[int]] | Mapping[str, Sequence[Sequence[int]]] | None = None,
                 num_tasks: int | None = None,
                 reward: str = "sokoban", end_on_deadlock: bool = True, positions: bool = True,
                 render_mode: str | None = None):
        super().__init__(split=split, max_steps=max_steps, render_mode=render_mode)
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}")
        self.reward_kind, self.end_on_deadlock, self.positions = reward, bool(end_on_deadlock), bool(positions)
        if isinstance(rooms, Mapping):  # per split: {"train": [[6, 1]], "valid_unseen": [[7, 1]]}
            rooms = rooms.get(split)
        layouts = [(int(size), int(boxes)) for size, boxes in (rooms or DEFAULT_ROOMS[split])]
        if not layouts or any(size < 5 or boxes < 1 for size, boxes in layouts):
            raise ValueError(f"rooms must be (size >= 5, boxes >= 1) pairs, got {rooms!r}")
        count, base = int(num_tasks or DEFAULT_COUNTS[split]), SEED_BASE[split]
        self._ids = [f"{s}x{s}-b{b}-{base + i}" for i, (s, b) in
                     ((i, layouts[i % len(layouts)]) for i in range(count))]
        self._fixed_max_steps = max_steps
        self.room: Room | None = None
        self.state: State | None = None
        self.expert: Expert | None = None

    def task_ids(self) -> Sequence[str]:
        return self._ids

    def load_task(self, task_id: str) -> None:
        size, boxes, seed = parse_task_id(task_id)
        self.room, self.state, fewest = generate(size, boxes, seed)
        self.expert = _expert(size, boxes, seed)
        self.max_steps = int(self._fixed_max_steps or 2 * fewest + 10)

    def first_observation(self) -> str:
        n = len(self.state.boxes)
        things = "1 box and 1 target" if n == 1 else f"{n} boxes and {n} targets"
        return (f"You are in a {self.room.height}x{self.room.width} room with {things}. Push every box onto a "
                f"target.\n{self._describe()}")

    def apply(self, action: str) -> Outcome:
        direction = parse_move(action)
        if direction is None:
            return Outcome(f"{action[:80]!r} is not a move. Valid actions: up, down, left, right.\n"
                           + self._describe(), action_valid=False)
        before = self.state
        self.state, outcome = self.room.move(before, direction)
        said, reward = MOVED[outcome].format(direction), 0.0
        if outcome == "push":
            box = before.player + self.room.offsets[direction]
            landed = box + self.room.offsets[direction]
            if landed in self.room.targets and box not in self.room.targets:
                said, reward = said[:-1] + " onto a target.", BOX_ON_TARGET
            elif box in self.room.targets and landed not in self.room.targets:
                said, reward = said[:-1] + " off its target.", BOX_OFF_TARGET
        if self.room.solved(self.state):
            return Outcome(f"{said} Every box is on a target: you solved the room!\n{grid(self.room, self.state)}",
                           reward=self._reward(reward + SOLVED_BONUS, solved=True), terminated=True, success=True)
        reason = deadlock_reason(self.room, self.state) if outcome == "push" and self.end_on_deadlock else None
        if reason:
            cut_short = self.max_steps - self.steps_taken - 1
            return Outcome(f"{said} Deadlock: {reason}, so the room can no longer be solved. The episode ends.\n"
                           f"{grid(self.room, self.state)}",
                           reward=self._reward(reward + STEP_COST * cut_short, solved=False), terminated=True)
        return Outcome(f"{said}\n{self._describe()}", reward=self._reward(reward, solved=False))

    def _describe(self) -> str:
        return describe(self.room, self.state, self.positions)

    def _reward(self, sokoban_reward: float, solved: bool) -> float:
        return sokoban_reward if self.reward_kind == "sokoban" else float(solved)

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict]:
        """The base step, plus the step cost on every step of a running episode (invalid actions included)."""
        running = self.task_id is not None and not self._done
        observation, reward, terminated, truncated, info = super().step(action)
        if running and self.reward_kind == "sokoban":
            reward += STEP_COST
        return observation, reward, terminated, truncated, info

    def state_info(self) -> dict[str, Any]:
        room, state, expert = self.room, self.state, self.expert
        moves = [d for d in DIRECTIONS if room.move(state, d)[1] in ("walk", "push")]
        n = len(state.boxes)
        plan = Deferred(lambda: expert.plan(state))  # None in a lost position (a deadlock included)
        return {
            "task": "Push the box onto the target." if n == 1 else f"Push all {n} boxes onto the {n} targets.",
            "task_type": f"{room.height}x{room.width}, {n} box{'es' if n > 1 else ''}",
            "admissible_actions": moves or list(DIRECTIONS),
            "state_key": grid(room, state),
            "expert_action": Deferred(lambda: (plan.value() or (None,))[0]),
            "expert_steps_left": Deferred(lambda: None if plan.value() is None else len(plan.value())),
        }
