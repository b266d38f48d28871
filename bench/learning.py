"""Same-budget comparison of credit-assignment methods on one machine.

Every method trains the same SFT-warm-started tiny model on the same environment for the same budget
of environment steps (``--env-steps``), for several seeds, through ``python -m agentgym.train``; the
final policies are then evaluated greedily on ``valid_seen`` and ``valid_unseen``. A method is a
``+``-joined list of names: the first is a credit estimator (or ``ppo`` = GAE with a critic), the
rest are modifiers (``empg``) or shapers (``progress``) found in the registries. ``loop``, ``igpo`` and
``archer`` are recipes: they train with the environment's preset (``configs/frozenlake_loop.yaml``, ...).

    python bench/learning.py --quick                                     # < 15 min on 2 cores (4 min measured)
    python bench/learning.py --jobs 2                                    # the full table: about 3-3.5 h on 2 cores
    python bench/learning.py --env agentgym/FrozenLake-v0 --methods grpo,gigpo --seeds 0,1,2 --env-steps 30000
    python bench/learning.py --env agentgym/TextWorld-CoinCollector-v0 --env-kwargs '{"num_tasks": 200}' --max-steps 15

``--env-kwargs`` and ``--max-steps`` reach the tiny model's build, training and the final evaluations alike
(``num_tasks`` bounds how many TextWorld games are generated; the held-out splits use their first tasks).

Writes ``bench/results/learning/<env>/<settings>/<method>/seed<k>/`` (runs), ``summary.json``,
``summary.md`` and ``curves.png`` (held-out success against environment steps; ``--metric score``:
``summary_score.*``, ``curves_score.png``). ``<settings>`` names the
step budget and a hash of every other setting that changes a run (``--env-kwargs``, ``--max-steps``, the
evaluation settings, extra trainer flags; ``settings.json`` lists them), so two benchmarks with different
settings never share, or silently reuse, each other's runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import yaml

from agentgym import credit
from agentgym.eval.episodes import EpisodeLog
from agentgym.eval.stats import paired_bootstrap_interval
from agentgym.train import checkpoint
from agentgym.util.metrics import read_metrics

RESULTS = Path(__file__).resolve().parent / "results" / "learning"
QUICK = {"methods": "grpo,gigpo", "seeds": "0", "env_steps": 6000, "eval_episodes": 50}
CONFIGS = Path(__file__).resolve().parents[1] / "configs"
METRIC_LABELS = {"success_rate": "success", "score": "score"}
RECIPES = ("loop", "igpo", "archer")  # methods run from their per-environment preset (see recipe_preset)


def recipe_preset(env_id: str, name: str) -> Path:
    """The preset ``configs/*_<name>.yaml`` of ``env_id``: a method that is a whole recipe (LOOP's update
    settings, ArCHer's critic, IGPO's belief) runs with its preset, then the benchmark's own flags."""
    for path in sorted(CONFIGS.glob(f"*_{name}.yaml")):
        if (yaml.safe_load(path.read_text()) or {}).get("env") == env_id:
            return path
    raise SystemExit(f"method {name!r} is a recipe, and no configs/*_{name}.yaml preset has env {env_id!r}")


def method_flags(method: str, env_id: str = "agentgym/FrozenLake-v1") -> list[str]:
    """Trainer flags for 'gigpo+empg', 'ppo', 'grpo+progress', 'loop', ... (shapers are found by entry point)."""
    head, *extras = method.split("+")
    if head in RECIPES:
        flags = ["--config", str(recipe_preset(env_id, head))]
    elif head == "ppo":
        flags = ["--credit", "gae", "--critic-enabled", "true"]
    elif head in credit.ESTIMATORS:
        flags = ["--credit", head]
    else:
        raise SystemExit(f"unknown credit estimator {head!r}; known: {credit.names()} and the recipes {RECIPES}")
    modifiers = [e for e in extras if e in credit.MODIFIERS]
    shapers = [e for e in extras if e in credit.SHAPERS]
    unknown = set(extras) - set(modifiers) - set(shapers)
    if unknown:
        raise SystemExit(f"unknown modifiers/shapers {sorted(unknown)}")
    if modifiers:
        flags += ["--modifiers", ",".join(modifiers)]
    if shapers:
        flags += ["--shapers", ",".join(["invalid_action", *shapers])]
    return flags


def run_settings(args: argparse.Namespace) -> dict:
    """Every benchmark setting that changes a run or its evaluation (the method and seed name their own folders)."""
    return {"env_steps": args.env_steps, "eval_every": args.eval_every, "eval_episodes": args.eval_episodes,
            "env_kwargs": args.env_kwargs, "max_steps": args.max_steps, "train_flags": list(args.train_flags)}


def results_dir(env_id: str, args: argparse.Namespace) -> Path:
    """bench/results/learning/<env>/steps<N>-<hash of run_settings>/"""
    settings = run_settings(args)
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    return RESULTS / env_id.replace("/", "--") / f"steps{args.env_steps}-{digest}"


def train_one(env_id: str, method: str, seed: int, args: argparse.Namespace) -> Path:
    run_dir = results_dir(env_id, args) / method / f"seed{seed}"
    if (run_dir / "summary.json").exists() and not args.rerun:
        return run_dir
    cmd = [sys.executable, "-m", "agentgym.train", "--env", env_id, "--seed", str(seed), "--run-dir", str(run_dir),
           "--iterations", "100000", "--max-env-steps", str(args.env_steps), "--eval-every", str(args.eval_every),
           "--eval-episodes", str(args.eval_episodes), "--checkpoint-every", "5", "--progress-bar", "false",
           *_continue_or_start(run_dir), *method_flags(method, env_id), *_env_flags(args), *args.train_flags]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=_child_env(args.jobs))
    return run_dir


def _continue_or_start(run_dir: Path) -> list[str]:
    """Resume a killed run from its checkpoint; one killed before its first checkpoint starts again."""
    return ["--resume", "true"] if checkpoint.latest(run_dir, quiet=True) else ["--overwrite", "true"]


def _env_flags(args: argparse.Namespace) -> list[str]:
    """The environment's construction flags, shared by the trainer and the eval CLI."""
    flags = ["--env-kwargs", json.dumps(args.env_kwargs)] if args.env_kwargs else []
    return flags + (["--max-steps", str(args.max_steps)] if args.max_steps else [])


def _child_env(jobs: int) -> dict[str, str]:
    """Parallel runs share the cores: each gets cores // jobs threads (torch would otherwise oversubscribe)."""
    if jobs <= 1:
        return dict(os.environ)
    return {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // jobs))}


def final_eval(run_dir: Path, env_id: str, split: str, episodes: int, args: argparse.Namespace,
               policy: str | None = None) -> float:
    """Greedy success of the run's final policy (or of ``policy``, a spec) on ``split`` (the eval CLI's report)."""
    out = run_dir / f"final_eval_{split}"
    if not (out / "report.json").exists():
        cmd = [sys.executable, "-m", "agentgym.eval", "--env", env_id, "--split", split, "--episodes", str(episodes),
               "--policy", policy or str(run_dir / "final_policy"), "--out", str(out), "--overwrite", "--quiet",
               *_env_flags(args)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=_child_env(args.jobs))
    report = json.loads((out / "report.json").read_text())
    return float(report["metrics"][args.metric]["mean"])


def task_scores(run_dir: Path, split: str, args: argparse.Namespace) -> dict[str, float]:
    """The final evaluation's metric per held-out task (mean over that task's episodes), from its episodes.jsonl."""
    field = {"success_rate": "success", "score": "score"}[args.metric]
    path = run_dir / f"final_eval_{split}" / "episodes.jsonl"
    if not path.exists():
        raise FileNotFoundError(path)
    per_task: dict[str, list[float]] = {}
    for record in EpisodeLog(path).read():
        per_task.setdefault(record["task_id"], []).append(float(record[field]))
    return {task: float(np.mean(values)) for task, values in per_task.items()}


def baseline_rows(env_id: str, args: argparse.Namespace) -> list[dict]:
    """The --baselines (random, heuristic, expert) on the same held-out tasks as the trained policies, each a
    fixed policy: one value per split. One the environment lacks (no heuristic written, no expert) is left out."""
    rows = []
    for name in filter(None, args.baselines.split(",")):
        if not _baseline_available(env_id, name):
            print(f"baseline {name!r} left out: {env_id} has none", flush=True)
            continue
        folder = results_dir(env_id, args) / "baselines" / name.replace(":", "_")
        rows.append({"method": f"baseline: {name}", "baseline": True,
                     **{split: [final_eval(folder, env_id, split, args.eval_episodes, args, policy=name)]
                        for split in ("valid_seen", "valid_unseen")}})
    return rows


def _baseline_available(env_id: str, name: str) -> bool:
    from agentgym.core.registry import class_attribute
    from policies.heuristics import has_heuristic

    head = name.partition(":")[0]
    if head == "heuristic":
        return has_heuristic(env_id)
    if head == "expert":
        return bool(class_attribute(env_id, "has_expert", True))
    if head == "random":
        return bool(class_attribute(env_id, "has_admissible_actions", True))
    return True


def summarise_runs(env_id: str, method: str, runs: list[Path], args: argparse.Namespace) -> dict:
    seen = [final_eval(r, env_id, "valid_seen", args.eval_episodes, args) for r in runs]
    unseen = [final_eval(r, env_id, "valid_unseen", args.eval_episodes, args) for r in runs]
    steps_to_target, iter_s = [], []
    for run in runs:
        rows = read_metrics(run)
        hit = [r.get("rollout/env_steps_total", 0) for r in rows if r.get(f"eval/{args.metric}", -1) >= args.target]
        steps_to_target.append(min(hit) if hit else float("nan"))
        iter_s += [r["time/iteration_s"] for r in rows if "time/iteration_s" in r]
    return {"method": method, "valid_seen": seen, "valid_unseen": unseen, "steps_to_target": steps_to_target,
            "iteration_s": float(np.mean(iter_s)) if iter_s else float("nan"), "runs": [str(r) for r in runs],
            **{f"{split}_tasks": [task_scores(r, split, args) for r in runs] for split in ("valid_seen", "valid_unseen")}}


T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}  # by dof


def _interval(values: list[float]) -> str:
    """'mean ± half-width of the 95% t-interval (per-seed values)'; one seed: no interval."""
    values = np.asarray(values, dtype=float)
    seeds = ", ".join(f"{v:.2f}" for v in values)
    if len(values) < 2:
        return f"{values.mean():.3f} ({seeds})"
    half = T95.get(len(values) - 1, 1.96) * values.std(ddof=1) / np.sqrt(len(values))
    return f"{values.mean():.3f} ± {half:.3f} ({seeds})"


def markdown(env_id: str, rows: list[dict], args: argparse.Namespace, baselines: list[dict] = ()) -> str:
    """Per method: held-out success (mean ± 95% t-interval over seeds, per-seed values), and each method's
    paired per-seed difference from the first method (same seeds, so the same start and tasks), with a t-interval
    and, where the rows carry per-task scores, a bootstrap interval over seeds and held-out tasks; the baselines
    (fixed policies, one evaluation each) in rows below the methods."""
    label = METRIC_LABELS[args.metric]
    lines = [f"### {env_id}: {args.env_steps} environment steps per run, seeds {args.seeds}",
             "", f"| method | valid_seen {label} | valid_unseen {label} | env steps to eval {label} >= {args.target} "
             "| s / iteration |", "|---|---|---|---|---|"]
    for r in rows:
        reached = [s for s in r["steps_to_target"] if s == s]
        to_target = f"{np.mean(reached):.0f} ({len(reached)}/{len(r['steps_to_target'])} runs)" if reached else "not reached"
        lines.append(f"| {r['method']} | {_interval(r['valid_seen'])} | {_interval(r['valid_unseen'])} | {to_target} "
                     f"| {r['iteration_s']:.1f} |")
    for b in baselines:
        lines.append(f"| {b['method']} | {b['valid_seen'][0]:.3f} | {b['valid_unseen'][0]:.3f} | | |")
    if len(rows) > 1:
        base = rows[0]
        lines += ["", "| paired difference | valid_seen | valid_unseen | valid_seen, bootstrap 95% "
                  "| valid_unseen, bootstrap 95% |", "|---|---|---|---|---|"]
        for r in rows[1:]:
            diffs = [_interval(list(np.subtract(r[split], base[split]))) for split in ("valid_seen", "valid_unseen")]
            boots = [_bootstrap(base, r, split) for split in ("valid_seen", "valid_unseen")]
            lines.append(f"| {r['method']} - {base['method']} | {diffs[0]} | {diffs[1]} | {boots[0]} | {boots[1]} |")
    return "\n".join(lines)


def _bootstrap(base: dict, row: dict, split: str) -> str:
    """'mean [low, high]' of the paired per-task difference (seeds, then held-out tasks, resampled); '' when
    the rows carry no per-task scores."""
    key = f"{split}_tasks"
    if key not in base or key not in row:
        return ""
    table = []
    for mine, theirs in zip(row[key], base[key]):
        tasks = sorted(set(mine) & set(theirs))
        if len(tasks) != len(mine) or len(tasks) != len(theirs):
            raise SystemExit(f"{split}: the runs were evaluated on different tasks; rerun their final evaluations")
        table.append([mine[t] - theirs[t] for t in tasks])
    if len({len(t) for t in table}) != 1:
        raise SystemExit(f"{split}: the seeds were evaluated on different numbers of tasks")
    mean, low, high = paired_bootstrap_interval(table)
    return f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]"


def plot(env_id: str, rows: list[dict], out: Path, metric: str = "success_rate", baselines: list[dict] = ()) -> None:
    """Held-out curves of every run (a colour per method); each baseline a dashed line at its valid_seen value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for r in rows:
        for i, run in enumerate(r["runs"]):
            points = [(m.get("rollout/env_steps_total", 0.0), m[f"eval/{metric}"]) for m in read_metrics(run)
                      if f"eval/{metric}" in m]  # iteration 0 (before any rollout) sits at 0 steps
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, color=f"C{rows.index(r)}", alpha=0.8, label=r["method"] if i == 0 else None)
    for j, b in enumerate(baselines):
        ax.axhline(b["valid_seen"][0], color="0.4", linestyle=("--", ":", "-.")[j % 3], linewidth=1,
                   label=f"{b['method']} (valid_seen)")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"held-out {METRIC_LABELS[metric]} (greedy)")
    ax.set_title(env_id)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", action="append", default=None, help="environment id (repeatable)")
    parser.add_argument("--methods", default="grpo,rloo,ppo,gigpo,gigpo+empg")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--env-steps", type=int, default=30000)
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument("--env-kwargs", type=json.loads, default={}, help='JSON, e.g. \'{"num_tasks": 200}\'')
    parser.add_argument("--max-steps", type=int, default=None, help="episode step limit (default: the env's)")
    parser.add_argument("--baselines", default="random,heuristic,expert",
                        help="fixed policies evaluated on the same held-out tasks and shown in the table and plot "
                             "(comma-separated policy names or specs; '' for none)")
    parser.add_argument("--target", type=float, default=0.6, help="metric level for 'steps to target'")
    parser.add_argument("--metric", choices=sorted(METRIC_LABELS), default="success_rate",
                        help="what the tables and curves show: success_rate, or score (partial credit, e.g. SearchQA's "
                             "F1); changing it reuses the finished runs")
    parser.add_argument("--quick", action="store_true", help=f"a < 15 min check: {QUICK}")
    parser.add_argument("--rerun", action="store_true", help="retrain runs that already finished")
    parser.add_argument("--jobs", type=int, default=1, help="training runs at once (each gets cores/jobs threads)")
    args, args.train_flags = parser.parse_known_args()
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    envs = args.env or ["agentgym/FrozenLake-v1"]
    seeds = [int(s) for s in str(args.seeds).split(",")]
    for env_id in envs:
        start, methods = time.time(), args.methods.split(",")
        if "--model" not in args.train_flags:  # build the shared tiny model once, before parallel runs wait on it
            from policies.tiny import default_model

            default_model(env_id, verbose=True, env_kwargs=args.env_kwargs)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            runs = {m: [pool.submit(train_one, env_id, m, seed, args) for seed in seeds] for m in methods}
            runs = {m: [f.result() for f in futures] for m, futures in runs.items()}
        rows = [summarise_runs(env_id, m, runs[m], args) for m in methods]
        baselines = baseline_rows(env_id, args)
        out = results_dir(env_id, args)
        out.mkdir(parents=True, exist_ok=True)
        (out / "settings.json").write_text(json.dumps(run_settings(args), indent=2, sort_keys=True) + "\n")
        table = markdown(env_id, rows, args, baselines)
        suffix = "" if args.metric == "success_rate" else f"_{args.metric}"
        (out / f"summary{suffix}.json").write_text(json.dumps(rows + baselines, indent=2))
        (out / f"summary{suffix}.md").write_text(table + "\n")
        plot(env_id, rows, out / ("curves.png" if args.metric == "success_rate" else f"curves_{args.metric}.png"),
             args.metric, baselines)
        print(table)
        print(f"\n{env_id}: {time.time() - start:.0f} s; results in {out}")


if __name__ == "__main__":
    main()
