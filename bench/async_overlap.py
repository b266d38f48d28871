"""Asynchronous rollouts against the synchronous loop, both on the ``server`` generation engine.

The project's policy server runs in a process of its own and the trainer in another. In the
synchronous loop (``max_staleness=0``) each iteration samples, then updates, then pushes the new
weights; with ``max_staleness=1`` the next batch is sampled on the server while the trainer
updates. Two parts:

* ``speed``: iteration wall time (``time/iteration_s``, the median over iterations after the first)
  of both loops at the default batch, one run each on this machine, and their ratio. The
  synchronous loop gets every core in each phase (torch's default threads); in the asynchronous
  one the server, busy at the same time as the trainer, gets ``--async-server-threads``. "cores
  busy" is the CPU time of the trainer and its server over wall time x cores, for the whole run.
* ``learning``: held-out greedy success (``valid_seen``) after the default budget (30 iterations),
  over seeds, for both loops, with 95% t-intervals and the interval of the difference.

    python bench/async_overlap.py --part speed                # about 4 min on 2 cores
    python bench/async_overlap.py --part learning             # about 1 h on 2 cores (3 seeds x 2 loops)
    python bench/async_overlap.py --part speed --env agentgym/Synthetic-v0 --env-kwargs '{"step_sleep_s": 0.3}' \
        --model DIR                                           # a latency-bound environment (like one over HTTP)

Other flags go to the trainer.

Writes ``bench/results/async_overlap/{speed,learning}.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from agentgym.util.metrics import read_metrics

RESULTS = Path(__file__).resolve().parent / "results" / "async_overlap"
LOOPS = {"sync": 0, "async": 1}


def _env(threads: int | None) -> dict[str, str]:
    return {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}


def train(run_dir: Path, staleness: int, flags: list[str], args: argparse.Namespace, rerun: bool) -> Path:
    if (run_dir / "summary.json").exists() and not rerun:
        return run_dir
    shutil.rmtree(run_dir, ignore_errors=True)
    server_threads = args.async_server_threads if staleness else None
    trainer_threads = args.async_trainer_threads if staleness else None
    cmd = [sys.executable, "-m", "agentgym.train", "--engine", "server", "--max-staleness", str(staleness),
           "--run-dir", str(run_dir), "--progress-bar", "false", "--tensorboard", "false", "--env", args.env,
           *(["--env-kwargs", json.dumps(args.env_kwargs)] if args.env_kwargs else []),
           *(["--engine-threads", str(server_threads)] if server_threads else []), *flags, *args.train_flags]
    print("$", " ".join(cmd), flush=True)
    before, tick = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(cmd, check=True, env=_env(trainer_threads), stdout=subprocess.DEVNULL)
    after, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter() - tick
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)  # trainer and its server
    (run_dir / "cpu.json").write_text(json.dumps({"cpu_s": cpu, "wall_s": wall, "cores": os.cpu_count()}))
    return run_dir


def speed(args: argparse.Namespace) -> dict:
    flags = ["--iterations", str(args.iterations), "--eval-every", "0", "--eval-at-start", "false",
             "--checkpoint-every", "0", "--seed", "0"]
    out: dict = {"env": args.env, "env_kwargs": args.env_kwargs, "iterations": args.iterations,
                 "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "load_before": os.getloadavg()[0],
                 "loops": {}}
    for name, staleness in LOOPS.items():
        run = train(RESULTS / "speed" / _tag(args) / name, staleness, flags, args, rerun=True)
        rows = read_metrics(run)[1:]  # the first iteration warms up
        out["loops"][name] = {key: statistics.median(r[f"time/{key}"] for r in rows if f"time/{key}" in r)
                              for key in ("iteration_s", "rollout_s", "rollout_wait_s", "rescore_s", "update_s")}
        usage = json.loads((run / "cpu.json").read_text())  # the whole run, start-up included
        out["loops"][name]["cpu_busy_frac"] = usage["cpu_s"] / (usage["wall_s"] * usage["cores"])
    out["ratio"] = out["loops"]["async"]["iteration_s"] / out["loops"]["sync"]["iteration_s"]
    out["load_after"] = os.getloadavg()[0]
    print("| loop | s / iteration | rollout s | waited for rollout s | rescore s | update s | cores busy |")
    print("|---|---|---|---|---|---|---|")
    for name, t in out["loops"].items():
        print(f"| {name} | {t['iteration_s']:.2f} | {t['rollout_s']:.2f} | {t['rollout_wait_s']:.2f} | "
              f"{t['rescore_s']:.2f} | {t['update_s']:.2f} | {t['cpu_busy_frac']:.0%} |")
    print(f"async / sync iteration wall time: {out['ratio']:.2f} (load {out['load_before']:.2f} before, "
          f"{out['load_after']:.2f} after)")
    return out


def _tag(args: argparse.Namespace) -> str:
    return args.env.replace("/", "--") + ("-" + "-".join(f"{k}{v}" for k, v in sorted(args.env_kwargs.items()))
                                          if args.env_kwargs else "")


def interval(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of the 95% t-interval."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float(values.mean()), float("nan")
    return float(values.mean()), float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))


def learning(args: argparse.Namespace) -> dict:
    seeds = [int(s) for s in args.seeds.split(",")]
    out: dict = {"seeds": seeds, "loops": {}}
    for name, staleness in LOOPS.items():
        finals = []
        for seed in seeds:
            run = train(RESULTS / "learning" / name / f"seed{seed}", staleness, ["--seed", str(seed)], args, args.rerun)
            evals = [r["eval/success_rate"] for r in read_metrics(run) if "eval/success_rate" in r]
            finals.append(evals[-1])
        out["loops"][name] = {"valid_seen": finals, "mean_ci95": interval(finals)}
    diff = np.asarray(out["loops"]["async"]["valid_seen"]) - np.asarray(out["loops"]["sync"]["valid_seen"])
    out["async_minus_sync_ci95"] = interval(list(diff))  # paired by seed
    print("| loop | valid_seen success per seed | mean ± 95% CI |")
    print("|---|---|---|")
    for name, r in out["loops"].items():
        mean, half = r["mean_ci95"]
        print(f"| {name} | {', '.join(f'{v:.2f}' for v in r['valid_seen'])} | {mean:.3f} ± {half:.3f} |")
    mean, half = out["async_minus_sync_ci95"]
    print(f"async - sync (paired by seed): {mean:+.3f} ± {half:.3f}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("speed", "learning"), required=True, help="what to measure")
    parser.add_argument("--env", default="agentgym/FrozenLake-v0", help="environment id (the default run's)")
    parser.add_argument("--env-kwargs", type=json.loads, default={},
                        help='JSON, e.g. \'{"step_sleep_s": 0.3}\' for agentgym/Synthetic-v0')
    parser.add_argument("--iterations", type=int, default=6, help="speed: iterations per loop (the first is dropped)")
    parser.add_argument("--seeds", default="0,1,2", help="learning: comma-separated seeds")
    parser.add_argument("--rerun", action="store_true", help="learning: retrain runs that already finished")
    parser.add_argument("--async-server-threads", type=int, default=1,
                        help="torch threads of the server in the asynchronous loop (0 = torch's default)")
    parser.add_argument("--async-trainer-threads", type=int, default=0,
                        help="torch threads of the trainer in the asynchronous loop (0 = torch's default)")
    args, args.train_flags = parser.parse_known_args()  # the rest go to the trainer, e.g. --model DIR
    RESULTS.mkdir(parents=True, exist_ok=True)
    start = time.time()
    result = speed(args) if args.part == "speed" else learning(args)
    result["wall_s"] = time.time() - start
    out = RESULTS / (f"speed-{_tag(args)}.json" if args.part == "speed" else "learning.json")
    out.write_text(json.dumps(result, indent=2))
    print(f"{time.time() - start:.0f} s; {out}")


if __name__ == "__main__":
    main()
