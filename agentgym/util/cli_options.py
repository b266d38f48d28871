"""Dataclass fields as command-line options: one flag per field, its help from the field's docstring.

A field is documented by the string literal right below it (an attribute docstring, as Sphinx and
tyro read them), so the dataclass stays the one place where a setting, its default and its meaning
are written. Flags default to ``argparse.SUPPRESS``: only options given on the command line come
back, and they override the dataclass (or a preset) rather than restating its defaults.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import inspect
import json
import sys
import textwrap
import types
import typing
from typing import Any

import yaml


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """Field name -> docstring, over ``cls`` and its dataclass bases."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0].body
        for node, following in zip(body, body[1:]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                    and isinstance(following.value.value, str)):
                docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type,
                skip: tuple[str, ...] = (), grouped: bool = False, prefix: str = "",
                only: tuple[str, ...] | None = None, rename: dict[str, str] | None = None,
                hidden: bool = False) -> None:
    """One ``--field-name`` option per field of ``cls``; ``grouped`` makes one help section per base class.

    ``prefix``: options ``--{prefix}-{field}`` with destination ``{prefix}_{field}`` (a trainer feature's
    settings); ``only``: just these fields; ``rename``: field -> another option name (an old spelling);
    ``hidden``: left out of ``--help``.
    """
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    sections: dict[type, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in skip or (only is not None and f.name not in only):
            continue
        target = parser
        if grouped:
            owner = next(k for k in reversed(cls.__mro__) if f.name in getattr(k, "__annotations__", {}))
            if owner not in sections:
                sections[owner] = parser.add_argument_group((owner.__doc__ or owner.__name__).strip().split("\n")[0])
            target = sections[owner]
        default = default_of(f)
        shown = "required" if default is dataclasses.MISSING else f"default: {default!r}"
        help_text = f"{docs.get(f.name, '').rstrip('.')} ({shown})".lstrip()
        dest = (rename or {}).get(f.name, f"{prefix}_{f.name}" if prefix else f.name)
        target.add_argument(flag_name(dest), dest=dest, type=parser_for(hints[f.name]),
                            default=argparse.SUPPRESS,
                            help=argparse.SUPPRESS if hidden else help_text.replace("``", "").replace("%", "%%"),
                            metavar=_metavar(hints[f.name]))


def add_renamed_options(parser: argparse.ArgumentParser, cls: type, renamed: dict[str, str]) -> None:
    """Hidden options under the old names of renamed fields (``{old: new}``), parsed as the new field."""
    for old, new in renamed.items():
        add_options(parser, cls, only=(new,), rename={new: old}, hidden=True)


def rename_given(given: dict[str, Any], renamed: dict[str, str], warn: bool = True) -> dict[str, Any]:
    """``given`` with old names (``{old: new}``) replaced by the new ones, a warning for each that was used."""
    out = {}
    for key, value in given.items():
        if key in renamed:
            new = renamed[key]
            if warn:
                print(f"warning: {key} is renamed {new} (--{new.replace('_', '-')}); the old name is read until "
                      "the next release", file=sys.stderr)
            key = new
        out[key] = value
    return out


def _metavar(hint: Any) -> str:
    origin = typing.get_origin(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _metavar(args[0])
    if hint is bool:
        return "BOOL"
    if origin is list:
        return "A,B"
    if origin is dict:
        return "MAP"
    if origin is tuple:
        return "1,2"
    return getattr(hint, "__name__", "VALUE").upper()


def parser_for(hint: Any):
    """A string -> value converter for one field's type hint."""
    origin = typing.get_origin(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        inner = parser_for(args[0])
        return lambda s: None if s.lower() in ("none", "null") else inner(s)
    if hint is bool:
        return parse_bool
    if hint in (int, float, str):
        return hint
    if origin is list:
        return lambda s: [x for x in (p.strip() for p in s.split(",")) if x]
    if origin is tuple:
        return lambda s: tuple(parser_for(args[0])(p.strip()) for p in s.split(",") if p.strip())
    if origin is dict:
        return parse_mapping
    return str


def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean, got {text!r}")


def parse_mapping(text: str) -> dict[str, Any]:
    """YAML or JSON mapping text: '{gamma: 0.9}' or '{"gamma": 0.9}'."""
    try:
        value = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:  # argparse turns this into its one-line usage error
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise argparse.ArgumentTypeError(f"not valid YAML or JSON ({problem}): {text!r}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a mapping like '{{gamma: 0.9}}', got {text!r}")
    return json.loads(json.dumps(value))
