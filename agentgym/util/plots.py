"""Learning-curve plot of a run (success on train rollouts and held-out tasks) written as PNG."""

from __future__ import annotations

from pathlib import Path

from agentgym.util.metrics import read_metrics

CURVES = {
    "rollout/success_rate": "train rollouts (sampled)",
    "train_eval/success_rate": "train tasks (greedy)",
    "eval/success_rate": "held-out tasks (greedy)",
}


def curve_labels(run_dir: str | Path) -> dict[str, str]:
    """The legend of each curve, naming the held-out split from the run's ``config.yaml`` when it has one."""
    import yaml

    config_path = Path(run_dir) / "config.yaml"
    config = yaml.safe_load(config_path.read_text()) if config_path.is_file() else {}
    split = (config or {}).get("eval_split")
    return {**CURVES, "eval/success_rate": f"held-out tasks: {split} (greedy)"} if split else dict(CURVES)


def plot_learning_curve(run_dir: str | Path, title: str | None = None) -> Path | None:
    """Write ``learning_curve.png`` next to the run's metrics; None when nothing was logged."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(run_dir)
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for key, label in curve_labels(run_dir).items():
        points = [(r["iteration"], r[key]) for r in rows if key in r]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o" if len(points) < 30 else None, label=label)
    ax.set_xlabel("iteration")
    ax.set_ylabel("success rate")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title or Path(run_dir).name)
    out = Path(run_dir) / "learning_curve.png"
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
