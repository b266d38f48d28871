"""TextWorld's valid actions derived once per distinct state of a game, not on every step.

After every command, textworld's ``GameProgression.update`` enumerates every rule instantiation that
holds in the new state (``State.all_applicable_actions``), from which the admissible commands are
written. That search is 10-30% of a step in a training-like random walk (docs/benchmarks.md), and
a random walk keeps coming back to the same states (the same room with the same inventory), whose
valid actions are a function of the fact set alone. ``install`` makes one episode's progression look
them up by its current fact set in a table shared by every episode of the same game in this process,
and compute only the states it has not seen.

One difference from textworld: the table keeps the enumeration order of the first visit, while
textworld's order can depend on the order its sets received the facts. Admissible commands are sorted
by textworld, so they are unchanged; ``detect_action`` only consults the order to break a tie
between two different actions that print the same Inform 7 event. No such tie showed up: random walks
on every family are identical with the table on and off
(``tests/environments/test_textworld_valid_actions_cache.py``).

Like the ALFWorld text-generation caches, it depends on textworld's internals, so the environment
installs it only where ``internals.supported()`` says so (a checked textworld version, and
``AGENTGYM_TEXTWORLD_CACHES`` not 0).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class ValidActionsTable:
    """Valid actions by fact set, for one game (its rules never change); the least recently used go first."""

    def __init__(self, max_states: int = 20_000):
        self.max_states = max_states
        self._actions: OrderedDict[frozenset, tuple] = OrderedDict()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._actions)

    def lookup(self, facts: frozenset, compute) -> tuple:
        actions = self._actions.get(facts)
        if actions is not None:
            self.hits += 1
            self._actions.move_to_end(facts)
            return actions
        self.misses += 1
        actions = tuple(compute())
        self._actions[facts] = actions
        if len(self._actions) > self.max_states:
            self._actions.popitem(last=False)
        return actions


def install(progression: Any, table: ValidActionsTable) -> None:
    """Have this episode's ``GameProgression`` read its state's valid actions from ``table``.

    Only this progression's ``State`` object changes (an instance attribute shadows the method), so the
    planner's own quest-tracking progression (``expert_tracker``) and textworld elsewhere are untouched."""
    state = progression.state
    enumerate_actions = state.all_applicable_actions

    def all_applicable_actions(rules, mapping=None):
        return iter(table.lookup(frozenset(state.facts), lambda: enumerate_actions(rules, mapping)))

    state.all_applicable_actions = all_applicable_actions
