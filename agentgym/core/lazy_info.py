"""Info values computed only when read: the expert's plan costs a planner call, most steps never need it.

An environment puts ``Deferred(fn)`` in its info for a value that is expensive and often unread
(``expert_action``, ``expert_steps_left``); ``fn`` must compute the value of the state the info was
made in (capture what it needs, not ``self``'s current state). ``LazyInfo`` is a plain ``dict`` to
every reader: ``info["k"]``, ``info.get("k")``, iteration, ``dict(info)``, ``{**info}``, ``==``, copies,
pickling and ``json.dumps`` all see the computed value, computed once. Code that only passes an
info along and wants to keep it lazy uses ``lazy_copy`` / ``lazy_subset``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_UNSET = object()


class Deferred:
    """A value computed by ``fn()`` on first use, then kept (shared by every copy of the info)."""

    __slots__ = ("_fn", "_lock", "_value")

    def __init__(self, fn: Callable[[], Any]):
        self._fn, self._value, self._lock = fn, _UNSET, threading.Lock()

    def value(self) -> Any:
        if self._value is _UNSET:
            with self._lock:
                if self._value is _UNSET:
                    self._value = self._fn()
                    self._fn = None  # drop what the closure held
        return self._value

    @property
    def computed(self) -> bool:
        return self._value is not _UNSET

    def __repr__(self) -> str:
        return f"Deferred({self._value!r})" if self.computed else "Deferred(<not computed>)"


def _resolved(value: Any) -> Any:
    return value.value() if isinstance(value, Deferred) else value


class LazyInfo(dict):
    """A dict whose ``Deferred`` values are computed when read (see the module docstring)."""

    def __getitem__(self, key: Any) -> Any:
        return _resolved(dict.__getitem__(self, key))

    def get(self, key: Any, default: Any = None) -> Any:
        return _resolved(dict.get(self, key, default))

    def __iter__(self) -> Iterator[Any]:  # a Python __iter__ sends dict(info) and {**info} through __getitem__
        return iter(dict.keys(self))

    def items(self):  # noqa: ANN201 - a list, like a view of computed values
        return [(key, _resolved(value)) for key, value in dict.items(self)]

    def values(self):  # noqa: ANN201
        return [_resolved(value) for value in dict.values(self)]

    def pop(self, key: Any, *default: Any) -> Any:
        return _resolved(dict.pop(self, key, *default))

    def setdefault(self, key: Any, default: Any = None) -> Any:
        return _resolved(dict.setdefault(self, key, default))

    def copy(self) -> dict[str, Any]:
        return dict(self.items())

    def __eq__(self, other: object) -> bool:
        return dict(self.items()) == other

    def __ne__(self, other: object) -> bool:
        return dict(self.items()) != other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(dict(self.items()))

    def __reduce__(self):  # pickles and deep copies as the plain dict of computed values
        return dict, (dict(self.items()),)

    def deferred_keys(self) -> list[Any]:
        """Keys whose values have not been computed yet (for tests and diagnostics)."""
        return [k for k, v in dict.items(self) if isinstance(v, Deferred) and not v.computed]

    def lazy_copy(self, **extra: Any) -> LazyInfo:
        """A copy that leaves deferred values deferred (shared), plus ``extra`` items."""
        out = LazyInfo(dict.items(self))
        out.update(extra)
        return out

    def lazy_subset(self, keys: Iterable[Any], **extra: Any) -> LazyInfo:
        out = LazyInfo((k, dict.get(self, k)) for k in keys)  # a missing key reads None, as with info.get
        out.update(extra)
        return out


def lazy_copy(info: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """``info`` plus ``extra`` without computing deferred values (any dict works)."""
    return info.lazy_copy(**extra) if isinstance(info, LazyInfo) else {**info, **extra}


def lazy_subset(info: dict[str, Any], keys: Iterable[Any], **extra: Any) -> dict[str, Any]:
    if isinstance(info, LazyInfo):
        return info.lazy_subset(keys, **extra)
    return {**{k: info.get(k) for k in keys}, **extra}


def resolve_info(info: dict[str, Any], keys: Iterable[Any] = ()) -> dict[str, Any]:
    """A plain dict: deferred values computed for ``keys`` only, the others None (what env pools send).

    Pools resolve infos this way on every backend, so a worker process never pays for a plan nobody
    reads and every backend hands out the same info.
    """
    wanted = set(keys)
    if not isinstance(info, LazyInfo):
        return dict(info)
    return {k: (v.value() if k in wanted else None) if isinstance(v, Deferred) else v for k, v in dict.items(info)}
