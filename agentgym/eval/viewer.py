"""A self-contained HTML trajectory viewer: one file, inline JS/CSS, the episodes embedded as JSON.

It opens from disk with no server and no network, filters episodes by outcome, task type and
text, and renders each episode's steps only when it is opened (large evaluations stay fast).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

DATA_MARKER = "/*__EPISODE_DATA__*/null"


def embed_json(data: Any) -> str:
    """JSON safe inside a <script> element: no "</script>", no HTML comment openers."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_viewer(episodes: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> str:
    template = resources.files("agentgym.eval").joinpath("templates/viewer.html").read_text(encoding="utf-8")
    if DATA_MARKER not in template:
        raise RuntimeError("viewer template lost its data marker")
    payload = {"meta": meta or {}, "episodes": episodes}
    return template.replace(DATA_MARKER, embed_json(payload))


def write_viewer(path: str | Path, episodes: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> Path:
    """Write the viewer for ``episodes`` (records from ``agentgym.eval.episodes``)."""
    path = Path(path)
    path.write_text(render_viewer(episodes, meta), encoding="utf-8")
    return path
