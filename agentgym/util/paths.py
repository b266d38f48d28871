"""Where generated artefacts (games, catalogues, tiny models) are cached: ``$AGENTGYM_CACHE``
or ``~/.cache/agentgym``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    root = Path(os.environ.get("AGENTGYM_CACHE", Path.home() / ".cache" / "agentgym"))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def replace_dir(src: Path, dst: Path) -> None:
    """Move the finished folder ``src`` to ``dst``, replacing any folder there.

    Readers see the old complete folder, for an instant nothing, or the new complete folder, never a
    half-deleted one: the old folder is renamed aside first and removed after the new one is in place.
    """
    old = dst.with_name(f".{dst.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dst.exists():
        os.replace(dst, old)
    os.replace(src, dst)
    shutil.rmtree(old, ignore_errors=True)
