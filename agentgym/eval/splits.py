"""Split fingerprints: which tasks a number came from, as a hash anyone can recompute.

The hash covers the environment id, its constructor kwargs, the split name and the split's task
ids in order, so a changed generator, a changed ``num_tasks`` or a reordered split all show up.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from agentgym.core.registry import make


def fingerprint(env_id: str, split: str, env_kwargs: dict[str, Any], task_ids: Sequence[str]) -> str:
    """sha256 (hex) of the canonical JSON of (env id, kwargs, split, ordered task ids)."""
    payload = {"env_id": env_id, "env_kwargs": env_kwargs, "split": split, "task_ids": list(task_ids)}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split_task_ids(env_id: str, split: str, env_kwargs: dict[str, Any] | None = None) -> list[str]:
    """The split's task ids in their fixed order (cheap: ``task_ids`` never generates games)."""
    env = make(env_id, split=split, **(env_kwargs or {}))
    try:
        return [str(t) for t in env.unwrapped.task_ids()]
    finally:
        env.close()
