"""Name -> function registries for credit estimators, advantage modifiers and reward shapers.

The trainer looks every algorithm up by name from its config and never branches on a name, so a
new method only has to register itself here.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any


class Registry:
    """A small named registry with a "did you mean" error."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._items and self._items[name] is not fn:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = fn
            return fn

        return decorator

    def get(self, name: str) -> Callable[..., Any]:
        if name not in self._items:
            close = difflib.get_close_matches(name, self._items, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"Unknown {self.kind} {name!r}.{hint} Known: {', '.join(self.names())}")
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items


ESTIMATORS = Registry("credit estimator")  # (batch, **params) -> advantages, shape (len(batch),)
MODIFIERS = Registry("advantage modifier")  # (batch, adv, **params) -> advantages
SHAPERS = Registry("reward shaper")  # (batch, **params) -> StepBatch with a new reward column
DIAGNOSTICS = Registry("credit diagnostics")  # (batch, adv, **params) -> dict[str, float], keyed like ESTIMATORS
