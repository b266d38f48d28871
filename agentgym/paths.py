"""Where generated artefacts (games, catalogues, tiny models) are cached: ``$AGENTGYM_CACHE``
or ``~/.cache/agentgym``."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    root = Path(os.environ.get("AGENTGYM_CACHE", Path.home() / ".cache" / "agentgym"))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
