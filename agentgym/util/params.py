"""Checks of ``*_params`` mappings against what they configure, run before anything is built.

A misspelt key (``credit_params: {gama: 0.9}``) would otherwise fail, or silently do nothing, only
after the model build, the warm-up and the first evaluation.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def check_keys(params: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """``ValueError`` naming every key of ``params`` not in ``allowed``, with a "did you mean"."""
    if not isinstance(params, Mapping):
        raise ValueError(f"{where} must be a mapping, got {type(params).__name__}: {params!r}")
    allowed = sorted(allowed)
    unknown = [key for key in params if key not in allowed]
    if unknown:
        said = "; ".join(_hint(key, allowed) for key in unknown)
        raise ValueError(f"{where}: unknown key(s): {said}. Known: {', '.join(allowed) or 'none'}")


def check_params(fn: Callable[..., Any], params: Mapping[str, Any], where: str, leading: int = 1) -> None:
    """Check ``params`` against the keyword parameters of ``fn`` after its ``leading`` positional ones."""
    signature = inspect.signature(fn)
    parameters = list(signature.parameters.values())[leading:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    check_keys(params, [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)],
               where)


def check_choice(value: Any, choices: Iterable[Any], where: str) -> None:
    choices = list(choices)
    if value not in choices:
        close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{where}: {value!r} is not one of {', '.join(map(repr, choices))}{hint}")


def check_at_least(settings: Any, bounds: Iterable[tuple[str, float]]) -> None:
    """Each named field of ``settings`` is at least its bound (a NaN fails too): ``(("iterations", 0), ...)``."""
    for name, least in bounds:
        if not getattr(settings, name) >= least:
            raise ValueError(f"{name} must be >= {least}, got {getattr(settings, name)}")


def _hint(key: Any, allowed: list[str]) -> str:
    if isinstance(key, bool):  # YAML 1.1 reads unquoted on/off/yes/no keys as booleans
        spelt = [name for name in allowed if name in (YAML_BOOLEANS[key])]
        return f"{key!r} (YAML reads an unquoted {' or '.join(spelt or YAML_BOOLEANS[key][:1])} as a boolean: quote it)"
    close = difflib.get_close_matches(str(key), allowed, n=1)
    return f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


YAML_BOOLEANS = {True: ("on", "yes", "y", "true"), False: ("off", "no", "n", "false")}
