"""``python -m agentgym.eval compare A B ...``: reports and training runs side by side.

Each input is an evaluation folder (or its ``report.json``) or a training run folder (its
``metrics.jsonl``, ``config.yaml``). The table flags rows whose split hashes differ, because
numbers from different task sets are not comparable. The plot draws each training run's held-out
success over iterations and each evaluation report as a horizontal line with its 95% interval.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agentgym.eval.splits import fingerprint, split_task_ids
from agentgym.eval.stats import wilson_interval
from agentgym.util.metrics import read_metrics

CURVE_KEY = "eval/success_rate"


@dataclass
class Entry:
    """One column of the comparison, from a report or a training run."""

    name: str
    kind: str  # "report" or "run"
    env_id: str | None
    split: str | None
    split_hash: str | None
    episodes: int | None
    metrics: dict[str, float | None]
    ci95: tuple[float, float] | None = None
    curve: list[tuple[int, float]] = field(default_factory=list)


def load_entry(path: str | Path) -> Entry:
    path = Path(path)
    report = path if path.is_file() else path / "report.json"
    if report.is_file():
        return _from_report(report)
    if (path / "metrics.jsonl").is_file():
        return _from_run(path)
    raise FileNotFoundError(f"{path}: neither an evaluation report nor a training run (no metrics.jsonl)")


def _from_report(path: Path) -> Entry:
    r = json.loads(path.read_text())
    m, sr = r["metrics"], r["metrics"]["success_rate"]
    name = path.parent.name if path.name == "report.json" else path.stem
    return Entry(name=name, kind="report", env_id=r["env_id"], split=r["split"]["name"],
                 split_hash=r["split"]["evaluated_hash"], episodes=m["episodes"], ci95=tuple(sr["ci95"]),
                 metrics={"success": sr["mean"], "success_std": sr["std_over_seeds"], "score": m["score"]["mean"],
                          "steps": m["steps"], "invalid": m["invalid_action_rate"]})


def _from_run(path: Path) -> Entry:
    rows = read_metrics(path)
    config = yaml.safe_load((path / "config.yaml").read_text()) if (path / "config.yaml").is_file() else {}
    evals = [r for r in rows if CURVE_KEY in r]
    last = evals[-1] if evals else {}
    env_id, split = config.get("env"), config.get("eval_split")
    episodes = config.get("eval_episodes")
    return Entry(name=path.name, kind="run", env_id=env_id, split=split,
                 split_hash=_run_split_hash(config), episodes=episodes, ci95=_run_interval(path, last, episodes),
                 curve=[(int(r["iteration"]), float(r[CURVE_KEY])) for r in evals],
                 metrics={"success": last.get(CURVE_KEY), "success_std": None, "score": last.get("eval/score"),
                          "steps": last.get("eval/episode_len"), "invalid": last.get("eval/invalid_action_rate"),
                          "iteration": last.get("iteration")})


def _run_interval(path: Path, last: dict[str, Any], episodes: int | None) -> tuple[float, float] | None:
    """The 95% interval of the run's last held-out success: its evaluation report's (the trainer writes
    ``eval/iter_N/report.json``), else the Wilson interval over its ``eval_episodes`` tasks."""
    if CURVE_KEY not in last:
        return None
    report = path / "eval" / f"iter_{int(last['iteration'])}" / "report.json"
    if report.is_file():
        return tuple(json.loads(report.read_text())["metrics"]["success_rate"]["ci95"])
    if not episodes:
        return None
    return wilson_interval(round(float(last[CURVE_KEY]) * episodes), int(episodes))


def _run_split_hash(config: dict[str, Any]) -> str | None:
    """Hash of the tasks the trainer's held-out check used (the first eval_episodes of eval_split)."""
    if not config.get("env") or not config.get("eval_split"):
        return None
    kwargs = dict(config.get("env_kwargs") or {})
    if config.get("max_steps") is not None:
        kwargs["max_steps"] = config["max_steps"]
    try:
        ids = split_task_ids(config["env"], config["eval_split"], kwargs)
    except Exception:  # noqa: BLE001 - an env that cannot be built here just has no hash
        return None
    return fingerprint(config["env"], config["eval_split"], kwargs, ids[:config.get("eval_episodes") or None])


def _fmt(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def markdown_table(entries: list[Entry]) -> str:
    hashes = {e.split_hash for e in entries if e.split_hash}
    lines = ["| name | kind | env | split | tasks hash | episodes | success | 95% CI | std (seeds) | score | "
             "steps | invalid rate |", "|" + "---|" * 12]
    for e in entries:
        ci = f"{e.ci95[0]:.3f}-{e.ci95[1]:.3f}" if e.ci95 else "-"
        name = e.name + (f" (iter {e.metrics['iteration']:g})" if e.metrics.get("iteration") is not None else "")
        lines.append(f"| {name} | {e.kind} | {e.env_id or '-'} | {e.split or '-'} | "
                     f"{(e.split_hash or '-')[:12]} | {_fmt(e.episodes)} | {_fmt(e.metrics['success'])} | {ci} | "
                     f"{_fmt(e.metrics['success_std'])} | {_fmt(e.metrics['score'])} | {_fmt(e.metrics['steps'], 2)} | "
                     f"{_fmt(e.metrics['invalid'])} |")
    if len(hashes) > 1:
        lines += ["", f"WARNING: {len(hashes)} different task sets (tasks hash); these numbers are not comparable."]
    return "\n".join(lines) + "\n"


def plot(entries: list[Entry], out: Path, title: str = "held-out success") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    span = [x for e in entries for x, _ in e.curve] or [0, 1]
    for e, color in zip(entries, series_colors(len(entries))):
        if e.curve:
            xs, ys = zip(*e.curve)
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, color=color, label=f"{e.name} ({e.split})")
        elif e.metrics["success"] is not None:
            ax.axhline(e.metrics["success"], linestyle="--", color=color, label=f"{e.name} (eval, {e.split})")
            if e.ci95:
                ax.axhspan(*e.ci95, color=color, alpha=0.12)
    ax.set_xlim(min(span), max(max(span), min(span) + 1))
    ax.set_xlabel("iteration")
    ax.set_ylabel("success rate")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def series_colors(count: int) -> list[str]:
    """A distinct colour per entry, curves and report lines alike (axhline does not advance matplotlib's
    colour cycle, so two reports drawn with it would share one)."""
    if count <= 10:
        return [f"C{i}" for i in range(count)]
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps["turbo"]
    return [to_hex(cmap(i / (count - 1))) for i in range(count)]


def compare(paths: list[str | Path], out_dir: str | Path | None = None) -> tuple[list[Entry], str]:
    """Load every input, return (entries, markdown table); with ``out_dir`` also write compare.md/.json/.png."""
    entries = [load_entry(p) for p in paths]
    table = markdown_table(entries)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.md").write_text(table)
        (out / "compare.json").write_text(json.dumps([e.__dict__ for e in entries], indent=2, default=list))
        plot(entries, out / "compare.png")
    return entries, table
