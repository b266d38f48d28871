"""Name -> function registries for credit estimators, advantage modifiers and reward shapers.

The trainer looks every algorithm up by name from its config and never branches on a name, so a
new method only has to register itself here: with the decorator in a module the registry's package
imports, or, from outside the core, as an entry point of the registry's group (``plugins``), loaded
on the first lookup of its name.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from agentgym.core import plugins


class Registry:
    """A small named registry with a "did you mean" error."""

    def __init__(self, kind: str, group: str | None = None):
        self.kind = kind
        self.group = group  # entry-point group searched for names not registered in-process
        self._items: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._items and self._items[name] is not fn:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = fn
            return fn

        return decorator

    def get(self, name: str) -> Callable[..., Any]:
        if name not in self._items and name in self._plugin_names():
            fn = plugins.load(self.group, name)  # importing its module usually registers it already
            self._items.setdefault(name, fn)
        if name not in self._items:
            close = difflib.get_close_matches(name, self.names(), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"Unknown {self.kind} {name!r}.{hint} Known: {', '.join(self.names())}")
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(set(self._items) | set(self._plugin_names()))

    def __contains__(self, name: str) -> bool:
        return name in self._items or name in self._plugin_names()

    def _plugin_names(self) -> list[str]:
        return plugins.names(self.group) if self.group else []


ESTIMATORS = Registry("credit estimator")  # (batch, **params) -> advantages, shape (len(batch),)
MODIFIERS = Registry("advantage modifier")  # (batch, adv, **params) -> advantages
SHAPERS = Registry("reward shaper", plugins.SHAPERS)  # (batch, **params) -> StepBatch with a new reward column
DIAGNOSTICS = Registry("credit diagnostics")  # (batch, adv, **params) -> dict[str, float], keyed like ESTIMATORS
