"""Speed-ups for textworld's PDDL text generation, which ALFWorld runs for every admissible command.

At every step, ``PddlEnv`` turns each admissible action into its command text with a
context-sensitive grammar (``textworld.envs.pddl.textgen``), and most of that time goes into work
whose result never changes: tatsu re-parsing the same grammar strings (``_parse_and_convert``) and
the same rule conditions (``Rule.parse_conjunctive_query``), and ``deepcopy`` of derivation contexts
that hold the whole game state and every entity's infos. ``install()`` replaces, inside that one
module only, the parse functions by memoised ones (a parsed derivation is copied on the way out,
since derivation mutates its symbols; a parsed query rule is only read) and the context copies by
copies of the two dicts derivation updates (``variables``, ``mapping``), whose values it only reads.
Observations, admissible commands and states stay byte-identical (``tests/environments``).

The patches depend on textworld's internals, so they are installed only on a version they were
checked against (otherwise the module is left alone, with one warning), and
``AGENTGYM_TEXTWORLD_CACHES=0`` turns them off.
"""

from __future__ import annotations

import copy
import functools
import logging
from typing import Any

from textworld.envs.pddl import textgen
from textworld.logic import Rule

from environments.textworld.internals import SWITCH, supported  # noqa: F401 - SWITCH: tests and benches read it here

log = logging.getLogger("agentgym.alfworld.textgen_cache")

_ORIGINALS = {name: getattr(textgen, name) for name in ("_parse_and_convert", "copy_context", "Rule")}
_ORIGINAL_SYMBOL_COPY = textgen.Symbol.copy


@functools.lru_cache(maxsize=4096)
def _parsed(args: tuple, kwargs: tuple) -> Any:
    return _ORIGINALS["_parse_and_convert"](*args, **dict(kwargs))


def _cached_parse_and_convert(*args: Any, **kwargs: Any) -> Any:
    """A fresh copy of the derivation parsed from these arguments (derivation assigns to its symbols)."""
    return [_clone(symbol) for symbol in _parsed(args, tuple(sorted(kwargs.items())))]


class _CachedQueryRule(Rule):
    """``Rule`` as textgen sees it: conjunctive queries parsed once per expression (the rule is only read)."""

    @classmethod
    @functools.lru_cache(maxsize=4096)
    def parse_conjunctive_query(cls, expr: str) -> Rule:
        return Rule.parse_conjunctive_query(expr)


def _copy_context(context: dict) -> dict:
    """textgen's context copy without deep copies: derivation updates ``variables`` and ``mapping``
    (fresh dicts here) and only reads their values, the state, the facts and the entity infos."""
    return {"state": context["state"], "facts": context["facts"], "variables": dict(context["variables"]),
            "mapping": dict(context["mapping"]), "entity_infos": context["entity_infos"]}


def _clone(symbol: textgen.Symbol) -> textgen.Symbol:
    """A copy of a grammar symbol and its nested symbols that shares their (replaced, never mutated) contexts."""
    clone = copy.copy(symbol)
    for attr in ("symbol", "expression"):
        value = getattr(clone, attr, None)
        if isinstance(value, textgen.Symbol):
            setattr(clone, attr, _clone(value))
        elif isinstance(value, list):
            setattr(clone, attr, [_clone(v) if isinstance(v, textgen.Symbol) else v for v in value])
    return clone


def _symbol_copy(self: textgen.Symbol, context: dict) -> textgen.Symbol:
    """``Symbol.copy`` without deep-copying the old context it then throws away."""
    clone = _clone(self)
    clone.context = _copy_context(context)
    return clone


def install() -> bool:
    """Patch textgen when it is safe to (idempotent); returns whether the caches are on."""
    ok, why = supported()
    if not ok:
        if installed():
            uninstall()
        log.warning("textworld text-generation caches off: %s (ALFWorld steps are slower)", why)
        return False
    textgen._parse_and_convert = _cached_parse_and_convert
    textgen.copy_context = _copy_context
    textgen.Rule = _CachedQueryRule
    textgen.Symbol.copy = _symbol_copy
    return True


def uninstall() -> None:
    """textworld's own functions back (for comparisons and tests)."""
    for name, original in _ORIGINALS.items():
        setattr(textgen, name, original)
    textgen.Symbol.copy = _ORIGINAL_SYMBOL_COPY


def installed() -> bool:
    return textgen._parse_and_convert is _cached_parse_and_convert
