"""One-line errors for the project's commands: a bad argument, a missing file or an unreachable server ends
a command with one line on stderr and exit status 1, never a traceback a user has to read from the bottom.

``one_line_errors`` wraps the part of a command that checks its arguments and builds what it runs (not a
long training loop, whose faults keep their tracebacks). ``AGENTGYM_TRACEBACK=1`` re-raises instead, for
whoever debugs the command itself.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

TRACEBACK_VARIABLE = "AGENTGYM_TRACEBACK"
# errors that point at the command's own code rather than at its input: their line says how to see more
CODE_ERRORS = (AttributeError, KeyError, IndexError, AssertionError, NameError, ZeroDivisionError, NotImplementedError)


@contextlib.contextmanager
def one_line_errors(prog: str, context: str = "") -> Iterator[None]:
    """Inside: any exception becomes ``SystemExit("<prog>: <context><message>")`` (exit status 1)."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - every error of a command's set-up is reported the same way
        if os.environ.get(TRACEBACK_VARIABLE):
            raise
        raise SystemExit(f"{prog}: {context}{describe(exc)}") from None


def describe(exc: BaseException) -> str:
    """The exception in one line: its message (whitespace folded), named by type unless a ValueError (whose
    message is written for the user)."""
    text = " ".join(str(exc).split()) or repr(exc)
    if isinstance(exc, ValueError):
        return text
    line = f"{type(exc).__name__}: {text}"
    if isinstance(exc, CODE_ERRORS):
        line += f" ({TRACEBACK_VARIABLE}=1 shows the traceback)"
    return line


def looks_like_a_path(spec: str) -> bool:
    """A folder or file the user meant, not a name or hub id: '/x', './x', '~/x', 'runs/a/final_policy', 'x.json'."""
    if ":" in spec.split("/")[0]:  # replay:<file>, openai:<model>@<url>
        return False
    return spec.startswith(("/", ".", "~")) or spec.count("/") > 1 or spec.endswith(("/", ".json", ".jsonl"))


def check_model_path(flag: str, spec: str | None) -> None:
    """Refuse a model path that is not there, or a folder with no model in it, before anything loads; a hub
    id ('org/name') and a model file (GGUF) are left to the loader."""
    if spec is None or not looks_like_a_path(spec):
        return
    path = Path(spec).expanduser()
    if not path.exists():
        raise ValueError(f"{flag} {spec!r}: no such folder (and not a hub model id)")
    if path.is_dir() and not any((path / name).exists() for name in
                                 ("config.json", "adapter_config.json", "policy/config.json")):
        raise ValueError(f"{flag} {spec!r}: the folder holds no model (no config.json or "
                                "adapter_config.json, nor a checkpoint's policy/)")
