"""What the trainer prints: labelled phases, one compact line per iteration, a fuller table now and
then, and a closing summary. Every metric still goes to ``metrics.jsonl`` and TensorBoard; the
console shows the handful people watch (docs/metrics.md defines them all).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable

# (metric key, short label, format): the compact line, in this order, each shown when logged
WATCHED = (
    ("rollout/success_rate", "success", "{:.2f}"),
    ("rollout/return_mean", "return", "{:.2f}"),
    ("rollout/invalid_action_rate", "invalid", "{:.2f}"),
    ("eval/success_rate", "held-out", "{:.2f}"),
    ("loss/kl", "kl", "{:.2g}"),
    ("rollout/steps", "steps", "{:.0f}"),
    ("time/iteration_s", "s/it", "{:.1f}"),
    ("loss/grad_norm", "grad", "{:.2g}"),
)
ALARMS = (("rollout/infra_dropped_frac", "infra-dropped", "{:.2f}"),)  # shown only when not 0


def width() -> int:
    """The terminal's width (100 when output is not a terminal)."""
    return shutil.get_terminal_size(fallback=(100, 24)).columns


QUIET = {"on": False}  # set on data-parallel ranks other than 0: one console for the run


def phase(name: str, text: str) -> None:
    """A labelled line for one phase of a run (``[setup] ...``, ``[train] ...``, ``[done] ...``)."""
    if QUIET["on"]:
        return
    print(f"[{name}] {text}", flush=True)


def compact_line(iteration: int, metrics: dict[str, float], total: int | None = None,
                 max_width: int | None = None) -> str:
    """``[iter 3/30] success 0.45  return 0.45  ...``, cut to ``max_width`` (the terminal's) at a field."""
    head = f"[iter {iteration}/{total}]" if total else f"[iter {iteration}]"
    alarms = [f"{label} {fmt.format(metrics[key])}" for key, label, fmt in ALARMS if metrics.get(key)]
    fields = alarms + [f"{label} {fmt.format(metrics[key])}" for key, label, fmt in WATCHED if key in metrics]
    limit = max_width or width()
    line = head
    for field in fields:  # a field that does not fit is left out; a shorter later one may still fit
        if len(line) + 2 + len(field) <= limit:
            line += "  " + field
    return line


def full_table(iteration: int, metrics: dict[str, float]) -> str:
    """Every metric of an iteration, grouped by prefix in columns that fit the terminal."""
    groups: dict[str, list[str]] = {}
    for key, value in sorted(metrics.items()):
        prefix, _, name = key.partition("/")
        groups.setdefault(prefix if name else "", []).append(f"{name or key}={value:.4g}")
    limit = width()
    lines = [f"-- all metrics at iteration {iteration} (metrics.jsonl has them every iteration) --"]
    for prefix, items in groups.items():
        lines.extend(_wrap(f"{prefix + '/' if prefix else ''}: ", items, limit))
    return "\n".join(lines)


def _wrap(head: str, items: Iterable[str], limit: int) -> list[str]:
    lines, line = [], head
    for item in items:
        if len(line) + len(item) + 1 > limit and line.strip() != head.strip():
            lines.append(line.rstrip())
            line = " " * len(head)
        line += item + " "
    lines.append(line.rstrip())
    return lines


def _baselines(rows: list[dict[str, float]], key: str) -> str:
    """'; baselines: random 0.07, heuristic 0.85' from the first row's ``baseline_<name>/<key>`` values."""
    found = {k.split("/")[0].removeprefix("baseline_"): v for r in rows[:1] for k, v in r.items()
             if k.startswith("baseline_") and k.endswith("/" + key)}
    return ("; baselines: " + ", ".join(f"{n} {v:.2f}" for n, v in found.items())) if found else ""


def summary(run_dir: str, env_id: str, split: str, rows: list[dict[str, float]], other_splits: list[str],
            plot: str | None) -> str:
    """The closing lines: held-out success from start to end on every checked split, and where the files are."""
    lines = []
    for name, prefix in ((split, "eval/"), *((s, f"eval_{s}/") for s in other_splits)):
        evals = [(r["iteration"], r[prefix + "success_rate"]) for r in rows if prefix + "success_rate" in r]
        if evals:
            (first_it, first), (last_it, last) = evals[0], evals[-1]
            change = f"{first:.2f} at iteration {first_it:g} -> " if first_it != last_it else ""
            lines.append(f"held-out success ({name}, greedy): {change}{last:.2f} at iteration {last_it:g}"
                         + _baselines(rows, "success_rate" if name == split else f"success_rate_{name}"))
    trained = [r["rollout/success_rate"] for r in rows if "rollout/success_rate" in r]
    if trained:
        lines.append(f"train rollouts (sampled): {trained[0]:.2f} -> {trained[-1]:.2f}")
    lines.append(f"run folder: {run_dir} (metrics.jsonl, final_policy/, eval/iter_N/viewer.html)")
    if plot:
        lines.append(f"learning curve: {plot}")
    lines.append(f"evaluate further: python -m agentgym.eval --env {env_id} --split SPLIT --policy {run_dir}/final_policy")
    return "\n".join(lines)
