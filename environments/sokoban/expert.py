"""The expert's plans for one room, kept along the plan: an agent that follows the expert costs one search per
episode, and an agent that strays costs one search per new position it asks about."""

from __future__ import annotations

import threading

from environments.sokoban.room import Room, State
from environments.sokoban.solver import DEFAULT_MAX_NODES, SearchLimit, solve

MAX_KEPT = 4096  # positions remembered per room (about 1 MB); the memory starts over past it


class Expert:
    """``plan(state)``: the remaining moves of a solution with the fewest moves, or None when the position is
    lost (or the search gave up, which generated rooms never make it do from their start)."""

    def __init__(self, room: Room, max_nodes: int = DEFAULT_MAX_NODES):
        self.room, self.max_nodes = room, max_nodes
        self._plans: dict[State, tuple[str, ...] | None] = {}
        self._lock = threading.Lock()  # deferred infos may be read from pool threads

    def plan(self, state: State) -> tuple[str, ...] | None:
        with self._lock:
            if state in self._plans:
                return self._plans[state]
        try:
            moves = solve(self.room, state, self.max_nodes)
        except SearchLimit:
            moves = None
        with self._lock:
            if len(self._plans) > MAX_KEPT:
                self._plans.clear()
            self._remember(state, moves)
            return self._plans[state]

    def _remember(self, state: State, moves: list[str] | None) -> None:
        """Every position along the plan gets the plan's rest (an optimal plan's suffix is optimal)."""
        if moves is None:
            self._plans[state] = None
            return
        for i, direction in enumerate(moves):
            self._plans[state] = tuple(moves[i:])
            state, _ = self.room.move(state, direction)
        self._plans[state] = ()
