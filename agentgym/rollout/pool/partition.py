"""How a pool's environments are spread over its workers: environment i lives on worker i % W.

Round-robin keeps the active environments of a rollout balanced across workers as episodes end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def worker_sizes(size: int, workers: int) -> list[int]:
    """Environments held by each of ``workers`` workers (the first ones hold one more when uneven)."""
    return [len(range(w, size, workers)) for w in range(workers)]


def split_by_worker(indices: Sequence[int], args: Sequence[Any], workers: int) -> dict[int, list[tuple]]:
    """``{worker: [(position in the request, local index, argument), ...]}``."""
    out: dict[int, list[tuple]] = {}
    for position, (index, arg) in enumerate(zip(indices, args)):
        out.setdefault(index % workers, []).append((position, index // workers, arg))
    return out
