"""The expert: A* over box pushes, optimal in moves, with deadlock pruning.

A search node is the position right after a push (the player stands where the box was), so the node keeps the
player's exact cell and the walk to the next push has a known length. An edge is "walk to the cell behind a box,
then push it once"; its cost is the walk's length plus one. The heuristic, the sum over boxes of the pushes each
needs to reach its nearest target (``deadlock.push_distances``), never overestimates and changes by at most one
per push, so the first solved node popped is a solution with the fewest moves. Pushes onto dead squares and
pushes that freeze a box off its target are never expanded.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque

from environments.sokoban.deadlock import deadlock_reason, push_distances
from environments.sokoban.room import DIRECTIONS, Room, State

DEFAULT_MAX_NODES = 200_000  # a search that expands more gives up (None): generated rooms need far fewer


class SearchLimit(Exception):
    """The search expanded ``max_nodes`` positions without deciding."""


def solve(room: Room, start: State, max_nodes: int = DEFAULT_MAX_NODES) -> list[str] | None:
    """The moves of a solution with the fewest moves from ``start`` ([] when solved), or None when there is
    none. Raises ``SearchLimit`` past ``max_nodes`` expansions."""
    if room.solved(start):
        return []
    if deadlock_reason(room, start):
        return None
    distances = push_distances(room)
    counter = itertools.count()  # ties pop in insertion order: the same room always gives the same plan
    best = {start: 0}
    parent: dict[State, tuple[State, int, str]] = {}  # node -> (previous node, cell pushed from, direction)
    frontier = [(_estimate(start, distances), 0, next(counter), start)]
    expanded = 0
    while frontier:
        _, neg_cost, _, node = heapq.heappop(frontier)
        cost = -neg_cost
        if cost > best[node]:
            continue  # a stale entry: the node was reached more cheaply since
        if room.solved(node):
            return _moves(room, start, node, parent)
        expanded += 1
        if expanded > max_nodes:
            raise SearchLimit(f"no decision after {max_nodes} positions")
        walk = walk_distances(room, node)
        for box in node.boxes:
            for direction in DIRECTIONS:
                step = room.offsets[direction]
                behind, ahead = box - step, box + step
                if behind not in walk or ahead in room.walls or ahead in node.boxes or ahead not in distances:
                    continue
                child = node.with_push(box, ahead)
                child_cost = cost + walk[behind] + 1
                if child_cost >= best.get(child, child_cost + 1) or deadlock_reason(room, child):
                    continue
                best[child], parent[child] = child_cost, (node, behind, direction)
                # larger cost first among equal estimates: deeper nodes finish sooner
                heapq.heappush(frontier, (child_cost + _estimate(child, distances), -child_cost, next(counter), child))
    return None


def _estimate(state: State, distances: dict[int, int]) -> int:
    return sum(distances[b] for b in state.boxes)


def walk_distances(room: Room, state: State) -> dict[int, int]:
    """Moves from the player to every cell it can walk to without pushing (breadth-first)."""
    dist = {state.player: 0}
    queue = deque([state.player])
    while queue:
        cell = queue.popleft()
        for direction in DIRECTIONS:
            nxt = cell + room.offsets[direction]
            if nxt not in dist and nxt not in room.walls and nxt not in state.boxes:
                dist[nxt] = dist[cell] + 1
                queue.append(nxt)
    return dist


def walk_path(room: Room, state: State, goal: int) -> list[str]:
    """The moves of one shortest walk to ``goal`` (ties broken in DIRECTIONS order); goal must be reachable."""
    came: dict[int, tuple[int, str] | None] = {state.player: None}
    queue = deque([state.player])
    while queue:
        cell = queue.popleft()
        if cell == goal:
            break
        for direction in DIRECTIONS:
            nxt = cell + room.offsets[direction]
            if nxt not in came and nxt not in room.walls and nxt not in state.boxes:
                came[nxt] = (cell, direction)
                queue.append(nxt)
    path, cell = [], goal
    while came[cell] is not None:
        cell, direction = came[cell]
        path.append(direction)
    return path[::-1]


def _moves(room: Room, start: State, goal: State, parent: dict[State, tuple[State, int, str]]) -> list[str]:
    pushes = []
    node = goal
    while node != start:
        previous, behind, direction = parent[node]
        pushes.append((previous, behind, direction))
        node = previous
    moves: list[str] = []
    for previous, behind, direction in reversed(pushes):
        moves += walk_path(room, previous, behind) + [direction]
    return moves
