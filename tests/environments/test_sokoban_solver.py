"""The solver and the deadlock tests on hand-built rooms, and against an exhaustive search on generated ones."""

from collections import deque

import numpy as np
import pytest

from environments.sokoban.deadlock import dead_squares, deadlock_reason, push_distances
from environments.sokoban.expert import Expert
from environments.sokoban.generator import generate
from environments.sokoban.room import DIRECTIONS, Room, State
from environments.sokoban.solver import SearchLimit, solve


def fewest_moves(room: Room, start: State) -> int | None:
    """Breadth-first search over every (player, boxes) position, no pruning: the ground truth."""
    seen = {start: 0}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        if room.solved(state):
            return seen[state]
        for direction in DIRECTIONS:
            nxt, _ = room.move(state, direction)
            if nxt not in seen:
                seen[nxt] = seen[state] + 1
                queue.append(nxt)
    return None


def play(room: Room, state: State, moves) -> State:
    for move in moves:
        state, _ = room.move(state, move)
    return state


def test_corridor_push_is_three_moves():
    room, start = Room.parse("#######\n#P_X_O#\n#######")
    assert solve(room, start) == ["right", "right", "right"]


def test_walks_round_the_box_to_push_it_back():
    room, start = Room.parse("""
#######
#_____#
#OPX__#
#_____#
#######""")
    # the player must get to the box's right: round the top (ties go to 'up' first), then push left twice
    assert solve(room, start) == ["up", "right", "right", "down", "left", "left"]


def test_two_boxes_optimal_and_solved_start_is_empty():
    room, start = Room.parse("""
#######
#_____#
#_X___#
#P*__O#
#_____#
#_____#
#######""")
    moves = solve(room, start)
    assert room.solved(play(room, start, moves))
    assert len(moves) == fewest_moves(room, start)
    done = play(room, start, moves)
    assert solve(room, done) == []


def test_corner_and_wall_side_boxes_are_dead():
    room, start = Room.parse("""
#######
#X____#
#__P__#
#____O#
#######""")
    assert "can no longer be pushed to any target" in deadlock_reason(room, start)
    assert solve(room, start) is None and fewest_moves(room, start) is None
    # a box on the top wall, no target along it: dead too; the same box one row lower is fine
    room, start = Room.parse("#######\n#__X__#\n#__P__#\n#____O#\n#######")
    assert deadlock_reason(room, start) is not None
    cell = lambda r, c: r * room.width + c  # noqa: E731
    assert cell(2, 3) not in dead_squares(room) and push_distances(room)[cell(2, 3)] == 3
    assert {cell(1, c) for c in range(1, 6)} <= dead_squares(room)


def test_a_square_of_four_boxes_is_frozen_unless_on_targets():
    room, start = Room.parse("""
########
#______#
#_XX___#
#_XX___#
#______#
#P_OOOO#
########""")
    assert "stuck off its target" in deadlock_reason(room, start)
    assert fewest_moves(room, start) is None
    room, start = Room.parse("########\n#______#\n#_**___#\n#_**___#\n#P_____#\n########")
    assert deadlock_reason(room, start) is None


def test_search_limit_is_raised_not_hidden():
    room, start = Room.parse("""
#######
#_____#
#OPX__#
#_____#
#######""")
    with pytest.raises(SearchLimit):
        solve(room, start, max_nodes=0)


@pytest.mark.parametrize("size,boxes", [(5, 1), (6, 1), (6, 2)])
def test_solver_is_move_optimal_and_deadlocks_are_sound_on_generated_rooms(size, boxes):
    """From the start and from positions a random walk reaches: the solver's length equals the exhaustive
    search's, and every position the deadlock tests flag has no solution at all."""
    rng = np.random.default_rng(0)
    flagged = 0
    for seed in range(6):
        room, start, fewest = generate(size, boxes, seed)
        assert fewest == fewest_moves(room, start)
        state = start
        for _ in range(25):
            state, _ = room.move(state, DIRECTIONS[int(rng.integers(4))])
            truth = fewest_moves(room, state)
            plan = solve(room, state)
            assert (None if plan is None else len(plan)) == truth
            if deadlock_reason(room, state):
                flagged += 1
                assert truth is None
    assert flagged > 0  # the walks did run into deadlocks, so soundness was exercised


def test_expert_remembers_the_rest_of_its_plan():
    room, start, fewest = generate(6, 2, 3)
    expert = Expert(room)
    plan = expert.plan(start)
    assert len(plan) == fewest
    after_two = play(room, start, plan[:2])
    assert after_two in expert._plans and expert.plan(after_two) == plan[2:]


def test_generation_is_deterministic_and_always_solvable():
    assert generate(7, 2, 11) == generate.__wrapped__(7, 2, 11)
    for seed in range(10):
        room, start, fewest = generate(8, 2, 2_000_000 + seed)
        assert not room.solved(start) and not any(b in room.targets for b in start.boxes)
        assert len(solve(room, start)) == fewest
    with pytest.raises(ValueError, match="size >= 5"):
        generate(4, 1, 0)
