"""Canonical state keys from TextWorld's game facts.

TextWorld tracks the world as a set of logical facts (``at(P, kitchen)``, ``open(fridge)``,
``in(knife, I)``). Two rollouts of one game are in the same state exactly when their fact sets
and their quest progress (the score) agree, whatever the observation text said on the way. Most
facts never change (room links, which key matches which door), so the key lists only the facts
added to (``+``) and removed from (``-``) the game's initial state, sorted: short, readable, and
equal for equal states of the same game.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def fact_text(fact: Any) -> str:
    """``name(arg, arg)`` for a textworld ``Proposition`` (argument names, without their types)."""
    names = getattr(fact, "names", None)
    if names is None:
        names = [getattr(arg, "name", str(arg)) for arg in fact.arguments]
    return f"{fact.name}({', '.join(names)})"


def fact_set(facts: Iterable[Any]) -> frozenset[str]:
    return frozenset(fact_text(f) for f in facts)


def state_key(initial: frozenset[str], current: frozenset[str], score: int) -> str:
    """``"score 1 | +in(knife, I) -on(knife, table)"``; ``"score 0 | initial"`` before anything changed."""
    added = sorted(current - initial)
    removed = sorted(initial - current)
    changes = [f"+{f}" for f in added] + [f"-{f}" for f in removed]
    return f"score {int(score)} | " + (" ".join(changes) if changes else "initial")
