"""SmolLM2-135M-Instruct after SFT + RL against its SFT start, GiGPO against GRPO paired by seed, on a CPU.

The whole experiment, skipping what is already done (so a cut-off session reruns the same command):

1. the SFT warm start (``python -m agentgym.sft`` with LoRA on a bfloat16 base, saved merged) into ``--sft``;
2. one RL run per method and seed from it (``--config``, by default ``configs/smollm2_frozenlake_gigpo.yaml``; a
   started run resumes), seed by seed, ``--jobs`` at a time, each on cores/jobs threads; the peak RSS of every
   run is read from the kernel;
3. an evaluation of the SFT start and every final policy on the first ``--tasks`` tasks of ``--split``: greedy,
   or with ``--temperature 1 --samples K`` the policy as it was trained, K sampled episodes a task;
4. the table: final success per seed, its mean with a 95% t-interval over seeds, the paired difference to the
   SFT start and GiGPO - GRPO (two-level bootstrap over seeds and tasks, agentgym.eval.stats), the tasks each
   run fixed and broke against the SFT start (a flat mean can hide both), and the credit diagnostics of the
   runs (metrics.jsonl, averaged over iterations).

    python bench/smollm2_learning.py                          # 2 methods x 3 seeds, about 2 h on 2 cores
    python bench/smollm2_learning.py --iterations 16          # the same runs, extended by 8 iterations
    python bench/smollm2_learning.py --seeds 0 --tasks 20 --root runs/smollm2_check     # a short check
    .venv-vllm/bin/python bench/smollm2_learning.py --root runs/smollm2_onestep --jobs 1 --iterations 6 \
        --split valid_seen --config configs/smollm2_frozenlake_gigpo_vllm.yaml   # vLLM rollouts, 128 a batch
    ... the same --temperature 1 --samples 3                  # held-out success of the sampled policy

Writes ``--root``/summary_<split>_iter<N>[_t<T>x<K>].md, .json and .png (train curves, held-out success per
seed); evaluations go to ``--root``/eval/<split>/iter<N>[_t<T>x<K>]/. ``bench/fatal_steps.py`` then shows what RL
changed at the states where the SFT start failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

from agentgym.eval.stats import paired_bootstrap_interval, wilson_interval
from agentgym.util.metrics import read_metrics

MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
CONFIG = "configs/smollm2_frozenlake_gigpo.yaml"
ENV = "agentgym/FrozenLake-v1"
SFT_FLAGS = ["--model-dtype", "bfloat16", "--lora-rank", "16", "--teacher-episodes", "120", "--steps", "60",
             "--examples-per-step", "16", "--lr", "5e-4", "--warmup", "5"]
METHOD_FLAGS = {"gigpo": [], "grpo": ["--credit", "grpo", "--credit-params", "{}"]}
DIAGNOSTICS = ("rollout/success_rate", "rollout/zero_variance_group_frac", "credit/adv_std", "credit/step_adv_abs_mean",
               "credit/step_group_mean_size", "credit/step_in_singleton_frac", "loss/kl")


def run_logged(cmd: list[str], log: Path, threads: int) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    print("$", " ".join(cmd), f"> {log}", flush=True)
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)


def wait_all(procs: list[tuple[str, subprocess.Popen]]) -> dict[str, float]:
    """Wait for the processes; peak RSS in GB of each, from the kernel's rusage (ru_maxrss, KiB on Linux)."""
    peaks = {}
    for name, proc in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{name} failed (exit {proc.returncode}); see its log")
        peaks[name] = usage.ru_maxrss / 1024 ** 2
    return peaks


def decoding(args: argparse.Namespace) -> str:
    """How the held-out episodes are played, for titles and folder names: greedy, or T samples a task."""
    return "greedy" if args.temperature <= 0 else f"temperature {args.temperature:g}, {args.samples} samples a task"


def eval_report(policy: str, out: Path, args: argparse.Namespace) -> dict:
    """Success per task of ``policy``; with several samples a task, their mean (the unit the bootstrap resamples)."""
    report = out / "report.json"
    if not (report.exists() and json.loads(report.read_text()).get("complete")):
        cmd = [sys.executable, "-m", "agentgym.eval", "--env", ENV, "--split", args.split, "--policy", policy,
               "--episodes", str(args.tasks), "--out", str(out), "--quiet", "--overwrite",
               "--temperature", str(args.temperature), "--seeds", str(args.samples)]
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    outcomes: dict[str, list[float]] = {}
    for line in (out / "episodes.jsonl").read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            outcomes.setdefault(record["task_id"], []).append(float(record["success"]))
    return {task: float(np.mean(values)) for task, values in outcomes.items()}


def t_interval(values: list[float]) -> tuple[float, float]:
    """(mean, half-width of the 95% t-interval over seeds); one value: half-width nan."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float(values.mean()), float("nan")
    return float(values.mean()), float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))


def iterations_done(run_dir: Path) -> int:
    """The last iteration of a finished run (0 when it has no final policy yet)."""
    if not (run_dir / "final_policy").exists():
        return 0
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return max((int(r.get("iteration", 0)) for r in rows), default=0)


def diagnostics(run_dir: Path) -> dict[str, float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("iteration", 1) >= 1 and "credit/adv_std" in r]
    out = {key: float(np.mean([r[key] for r in rows if key in r])) for key in DIAGNOSTICS
           if any(key in r for r in rows)}
    out["iterations"] = len(rows)
    out["update_s"] = float(np.mean([r["time/update_s"] for r in rows]))
    out["rollout_s"] = float(np.mean([r["time/rollout_s"] for r in rows]))
    return out


def plot(root: Path, seeds: list[int], sft: dict, per_seed: dict[str, list[float]], split: str, how: str,
         out: Path) -> Path:
    """Left: sampled train success per iteration, one thin line a run and the method's mean over seeds; right:
    held-out success of every final policy (``per_seed``: method -> success per seed) beside the SFT start's (its
    Wilson band)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (curves, held_out) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 2]})
    tasks = sorted(sft)
    # n = tasks: wider than the band over tasks x samples episodes when samples are averaged per task
    low, high = wilson_interval(int(round(sum(sft[t] for t in tasks))), len(tasks))
    for column, (method, successes) in enumerate(per_seed.items()):
        color = f"C{column}"
        runs = [[row["rollout/success_rate"] for row in read_metrics(root / f"{method}_s{s}")
                 if "rollout/success_rate" in row] for s in seeds]
        for run in runs:
            curves.plot(range(1, len(run) + 1), run, color=color, alpha=0.3, linewidth=1)
        common = min(len(run) for run in runs)
        if common:
            mean = np.mean([run[:common] for run in runs], axis=0)
            curves.plot(range(1, common + 1), mean, color=color, linewidth=2.5, marker="o", label=f"{method} (mean)")
        held_out.scatter([column] * len(successes), successes, color=color, zorder=3)
        held_out.hlines(np.mean(successes), column - 0.2, column + 0.2, color=color, linewidth=2.5)
    held_out.axhspan(low, high, color="grey", alpha=0.2)
    held_out.axhline(float(np.mean([sft[t] for t in tasks])), color="grey", linestyle="--", label="SFT start")
    held_out.set_xticks(range(len(per_seed)), list(per_seed))
    held_out.set_xlim(-0.6, len(per_seed) - 0.4)
    held_out.set_title(f"{split}, first {len(tasks)} tasks, {how} (dots: seeds)", fontsize=9)
    held_out.legend(fontsize=8)
    curves.set_xlabel("iteration")
    curves.set_title("sampled train success (temperature 1)", fontsize=9)
    curves.legend(fontsize=8)
    for ax in (curves, held_out):
        ax.set_ylabel("success rate")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("runs/smollm2"), help="folder of the runs and evaluations")
    parser.add_argument("--sft", type=Path, default=Path("runs/smollm2_sft"), help="the SFT warm start's folder")
    parser.add_argument("--sft-args", default="", help="extra flags for the SFT warm start when --sft does not "
                        "exist yet, over the script's (quoted, e.g. \"--steps 20 --warmup 3\": a lighter start, "
                        "less confident)")
    parser.add_argument("--methods", default="gigpo,grpo", help=f"comma-separated, of {sorted(METHOD_FLAGS)}")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated RL seeds (the SFT start is shared)")
    parser.add_argument("--iterations", type=int, default=8, help="RL iterations of every run (over the preset's; "
                        "the default preset has 8); more extends "
                        "finished runs from their last checkpoint")
    parser.add_argument("--config", default=CONFIG, help="training preset of every run (its model is replaced by "
                        "--sft); configs/smollm2_frozenlake_gigpo_vllm.yaml: vLLM rollouts, one optimizer step an "
                        "iteration (run the script with .venv-vllm/bin/python)")
    parser.add_argument("--split", default="valid_unseen", help="held-out split of the final evaluation")
    parser.add_argument("--tasks", type=int, default=100, help="first N tasks of the split")
    parser.add_argument("--temperature", type=float, default=0.0, help="held-out decoding: 0 = greedy (one "
                        "episode a task); 1 = the policy as it was trained, sampled (give --samples > 1)")
    parser.add_argument("--samples", type=int, default=1, help="episodes a task in the held-out evaluation "
                        "(sampling seeds 0..N-1), averaged per task")
    parser.add_argument("--jobs", type=int, default=2, help="training runs at once")
    parser.add_argument("--train-args", default="", help="extra flags for every training run, over the preset's "
                        "(quoted, e.g. \"--group-size 8 --kl-coef 0\"); use a new --root for a new recipe")
    args = parser.parse_args()
    if args.temperature <= 0 and args.samples != 1:
        parser.error("greedy evaluation plays each task once: --samples 1, or give a --temperature")
    methods, seeds = args.methods.split(","), [int(s) for s in args.seeds.split(",")]
    args.root.mkdir(parents=True, exist_ok=True)
    threads = max(1, (os.cpu_count() or 2) // args.jobs)
    peaks: dict[str, float] = {}
    if not (args.sft / "config.json").exists():
        cmd = [sys.executable, "-m", "agentgym.sft", "--model", MODEL, *SFT_FLAGS, *shlex.split(args.sft_args),
               "--out", str(args.sft)]
        peaks.update(wait_all([("sft", run_logged(cmd, args.root / "sft.log", os.cpu_count() or 2))]))
    # seed by seed, so a session cut off between runs leaves pairs of methods on the same seeds
    todo = [(m, s) for s in seeds for m in methods if iterations_done(args.root / f"{m}_s{s}") < args.iterations]
    start = time.perf_counter()
    for i in range(0, len(todo), args.jobs):
        procs = []
        for method, seed in todo[i:i + args.jobs]:
            run_dir = args.root / f"{method}_s{seed}"
            cmd = [sys.executable, "-m", "agentgym.train", "--config", args.config, *METHOD_FLAGS[method], "--model",
                   str(args.sft), "--seed", str(seed), "--run-dir", str(run_dir), "--progress-bar", "false"]
            cmd += [*shlex.split(args.train_args), "--iterations", str(args.iterations)]
            if (run_dir / "checkpoints").exists():  # cut off, or extended to more iterations: go on from there
                cmd += ["--resume", "true", "--micro-batch-size", "8"]  # runs saved with 32 peak near 10 GB
            procs.append((run_dir.name, run_logged(cmd, args.root / f"{run_dir.name}.log", threads)))
        peaks.update(wait_all(procs))
    train_s = time.perf_counter() - start
    tag = f"iter{args.iterations}" + ("" if args.temperature <= 0 else f"_t{args.temperature:g}x{args.samples}")
    evals = args.root / "eval" / args.split / tag
    sft = eval_report(str(args.sft), evals / "sft", args)
    tasks = sorted(sft)
    finals = {m: {s: eval_report(str(args.root / f"{m}_s{s}" / "final_policy"), evals / f"{m}_s{s}", args)
                  for s in seeds} for m in methods}
    lines = [f"# SmolLM2-135M-Instruct: SFT start vs SFT + RL on {ENV} ({args.split}, first {args.tasks} tasks, "
             f"{decoding(args)})",
             "", f"Preset {args.config} with: {args.train_args or '(nothing changed)'}", "",
             f"SFT start: success {np.mean([sft[t] for t in tasks]):.3f}", "",
             "| method | per seed | mean ± 95% t-interval | RL - SFT (paired bootstrap, 95%) | tasks fixed / broken "
             "per seed |", "|---|---|---|---|---|"]
    summary = {"sft": float(np.mean([sft[t] for t in tasks])), "methods": {}, "peak_rss_gb": peaks,
               "decoding": decoding(args),
               "train_args": args.train_args,
               "train_wall_s_this_call": train_s, "load_average": os.getloadavg()[0]}
    for m in methods:
        per_seed = [float(np.mean([finals[m][s][t] for t in tasks])) for s in seeds]
        mean, half = t_interval(per_seed)
        diff = paired_bootstrap_interval([[finals[m][s][t] - sft[t] for t in tasks] for s in seeds])
        # a flat mean can hide churn: tasks the SFT start failed that RL solves, and the reverse
        churn = [(sum(max(finals[m][s][t] - sft[t], 0.0) for t in tasks),
                  sum(max(sft[t] - finals[m][s][t], 0.0) for t in tasks)) for s in seeds]
        summary["methods"][m] = {"per_seed": per_seed, "mean": mean, "t_half": half, "minus_sft": diff,
                                 "fixed_broken": churn,
                                 "diagnostics": {s: diagnostics(args.root / f"{m}_s{s}") for s in seeds}}
        lines.append(f"| {m} | {', '.join(f'{v:.2f}' for v in per_seed)} | {mean:.3f} ± {half:.3f} | "
                     f"{diff[0]:+.3f} [{diff[1]:+.3f}, {diff[2]:+.3f}] | "
                     + ", ".join(f"{fixed:.3g} / {broken:.3g}" for fixed, broken in churn) + " |")
    if len(methods) == 2:
        a, b = methods
        diff = paired_bootstrap_interval([[finals[a][s][t] - finals[b][s][t] for t in tasks] for s in seeds])
        summary[f"{a}_minus_{b}"] = diff
        lines += ["", f"{a} - {b}, paired by seed and task: {diff[0]:+.3f} [{diff[1]:+.3f}, {diff[2]:+.3f}]"]
    lines += ["", "| run | iterations | " + " | ".join(DIAGNOSTICS) + " | update s/it | rollout s/it |",
              "|---|---|" + "---|" * (len(DIAGNOSTICS) + 2)]
    for m in methods:
        for s in seeds:
            d = summary["methods"][m]["diagnostics"][s]
            lines.append(f"| {m}_s{s} | {d['iterations']} | " + " | ".join(f"{d.get(k, float('nan')):.3f}"
                                                                           for k in DIAGNOSTICS)
                         + f" | {d['update_s']:.0f} | {d['rollout_s']:.0f} |")
    if peaks:
        lines += ["", "peak RSS (GB) of the processes run by this call: "
                  + ", ".join(f"{k} {v:.2f}" for k, v in peaks.items())]
    figure = plot(args.root, seeds, sft, {m: summary["methods"][m]["per_seed"] for m in methods}, args.split,
                  decoding(args), args.root / f"summary_{args.split}_{tag}.png")
    lines += ["", f"plot: {figure}"]
    text = "\n".join(lines)
    print(text)
    (args.root / f"summary_{args.split}_{tag}.md").write_text(text + "\n")
    (args.root / f"summary_{args.split}_{tag}.json").write_text(json.dumps(summary, indent=2,
                                                                                         default=str))


if __name__ == "__main__":
    main()
