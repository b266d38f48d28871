"""Shorten a long text by keeping its head and its tail around a marker that says how much was cut.

The one shortening rule of the rollout (docs/rollout.md, "Context guard"): the head of an
observation usually says where the agent is, the tail what just happened. Nothing is cut silently.
"""

from __future__ import annotations

MARKER = "\n[... {n:,} characters cut ...]\n"


def cut_middle(text: str, limit: int) -> str:
    """``text`` itself when it has at most ``limit`` characters, else head + marker + tail (at most ``limit``
    characters when ``limit`` leaves room for the marker)."""
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if len(text) <= limit:
        return text
    marker = MARKER.format(n=len(text))
    keep = max(limit - len(marker), 0)
    marker = MARKER.format(n=len(text) - keep)
    head = (keep + 1) // 2
    tail = keep - head
    return text[:head] + marker + (text[len(text) - tail:] if tail else "")



def cut_observation(obs: str, info: dict, limit: int) -> tuple[str, dict]:
    """An env pool's observation rule: longer than ``limit`` is cut in the middle and the number of
    characters removed recorded as ``info["observation_cut"]``, so no cut goes unseen."""
    if len(obs) > limit:
        info["observation_cut"] = len(obs) - limit
        obs = cut_middle(obs, limit)
    return obs, info
