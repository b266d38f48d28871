"""Statistics of an evaluation: seed spread, confidence intervals and pass@k.

Everything works on episode records (dicts from ``agentgym.eval.episodes``), so a report can be
recomputed from ``episodes.jsonl`` alone.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

Z95 = 1.959963984540054  # two-sided 95% quantile of the standard normal


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (sane at 0% and 100%, unlike the normal one)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def sample_std(values: Sequence[float]) -> float | None:
    """Standard deviation with Bessel's correction; None for fewer than two values."""
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one task with ``c`` successes in ``n`` tries: 1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} tries per task, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def mean_pass_at_k(records: Sequence[dict[str, Any]], k: int) -> float:
    """pass@k averaged over tasks; each task's tries are its episodes over all seeds."""
    tries: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        tries[r["task_id"]].append(bool(r["success"]))
    values = [pass_at_k(len(t), sum(t), k) for t in tries.values()]
    return sum(values) / len(values) if values else 0.0


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def episode_metrics(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Plain means over episodes (and over steps for the invalid-action rate)."""
    steps = sum(r["num_steps"] for r in records)
    return {
        "episodes": len(records),
        "success_rate": _mean([float(r["success"]) for r in records]),
        "score": _mean([float(r["score"]) for r in records]),
        "steps": _mean([float(r["num_steps"]) for r in records]),
        "return": _mean([float(r["return"]) for r in records]),
        "invalid_action_rate": sum(r["invalid_steps"] for r in records) / steps if steps else 0.0,
        "truncated_rate": _mean([float(r["truncated"]) for r in records]),
    }


def seed_spread(records: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    """Per-seed means of ``key`` and their mean and sample std over seeds."""
    by_seed: dict[int, list[float]] = defaultdict(list)
    for r in records:
        by_seed[int(r["seed"])].append(float(r[key]))
    per_seed = {str(s): _mean(v) for s, v in sorted(by_seed.items())}
    values = list(per_seed.values())
    return {"mean": _mean(values), "std_over_seeds": sample_std(values), "per_seed": per_seed}


def success_summary(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Success rate over all episodes with its seed spread and a 95% Wilson interval."""
    successes = sum(bool(r["success"]) for r in records)
    low, high = wilson_interval(successes, len(records))
    spread = seed_spread(records, "success")
    return {"mean": successes / len(records) if records else 0.0, "std_over_seeds": spread["std_over_seeds"],
            "per_seed": spread["per_seed"], "ci95": [low, high], "ci_method": "wilson over episodes",
            "successes": successes, "episodes": len(records)}


def by_task_type(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """``episode_metrics`` for each ``task_type`` (None becomes "(none)"), sorted by type."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[str(r.get("task_type") or "(none)")].append(r)
    return {name: episode_metrics(groups[name]) for name in sorted(groups)}


def paired_bootstrap_interval(diffs: Sequence[Sequence[float]], resamples: int = 10_000, level: float = 0.95,
                              seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high) of a paired difference between two methods, by a two-level percentile bootstrap.

    ``diffs[s][t]`` is method B's score minus method A's on held-out task ``t`` for seed ``s`` (both methods
    ran the same seeds and were evaluated on the same tasks). Each resample draws the seeds with replacement,
    then the tasks with replacement (one draw of tasks shared by the drawn seeds, so the pairing by task is
    kept), and takes the mean. Both kinds of variation count: the training runs (with three seeds a t-interval
    over per-seed means is all but uninformative) and the finite set of held-out tasks. rliable's stratified
    bootstrap resamples only the runs within each task, so its interval is narrower than this one.
    """
    import numpy as np

    table = np.asarray(diffs, dtype=float)
    if table.ndim != 2 or table.size == 0:
        raise ValueError(f"diffs must be a non-empty seeds x tasks table, got shape {table.shape}")
    n_seeds, n_tasks = table.shape
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, n_seeds, size=(resamples, n_seeds))
    tasks = rng.integers(0, n_tasks, size=(resamples, n_tasks))
    means = np.array([table[np.ix_(s, t)].mean() for s, t in zip(seeds, tasks)])
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(table.mean()), float(low), float(high)
