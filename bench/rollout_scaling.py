"""Rollout throughput per env-pool backend, and how a latency-bound environment scales with concurrency.

    python bench/rollout_scaling.py [--rounds 2] [--envs 16] [--json bench/results/rollout_scaling.json]

1. Environment steps per second of ``agentgym.rollout.collect.collect`` (a uniformly random admissible
   policy, so no model time; resets included) for ALFWorld, TextWorld Cooking and Synthetic-v0
   burning 5 ms of CPU per step, on each backend: thread (one process, a thread per environment),
   process and ray at 1 and 2 workers. The same task ids are played in every cell, after one
   untimed warm-up round that fills the workers' caches. Peak RSS (VmHWM) of each worker process.
2. Synthetic-v0 sleeping 50 ms per step (like an HTTP environment) on the thread backend, 1 to 256
   environments stepped together: steps per second.

Compare ratios within one run; the machine is shared (the load average is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CPU_ENVS = {
    "ALFWorld": ("agentgym/ALFWorld-v0", {}, 30),
    "TextWorld-Cooking": ("agentgym/TextWorld-Cooking-v0", {}, 30),
    "Synthetic (5 ms CPU/step)": ("agentgym/Synthetic-v0", {"step_cpu_s": 0.005, "length": 20}, 30),
}
CELLS = [("thread", None), ("process", 1), ("process", 2), ("ray", 1), ("ray", 2)]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def throughput(env_id: str, kwargs: dict, max_steps: int, backend: str, workers: int | None, envs: int,
               rounds: int) -> dict:
    from agentgym.core.policy import SamplingParams
    from agentgym.rollout.collect import collect
    from agentgym.rollout.pool import make_pool
    from policies.scripted import RandomPolicy

    tick = time.perf_counter()
    pool = make_pool(env_id, "train", envs, kwargs, max_steps, backend=backend, workers=workers)
    start_s = time.perf_counter() - tick
    try:
        resets = [{"seed": 0, "options": {"task_id": t}} for t in pool.task_ids()[:envs]]
        policy = RandomPolicy(seed=0)
        collect(pool, policy, resets, 1, SamplingParams())  # warm-up: games on disk, caches in the workers
        steps = seconds = 0.0
        for _ in range(rounds):
            _, stats = collect(pool, policy, resets, 1, SamplingParams())
            steps += stats.steps
            seconds += stats.total_s
        pids = pool.worker_pids() if hasattr(pool, "worker_pids") else [os.getpid()]
        rss = [round(peak_rss_mib(pid), 1) for pid in pids if pid]
    finally:
        pool.close()
    return {"backend": backend, "workers": workers, "steps": int(steps), "seconds": round(seconds, 2),
            "steps_per_s": round(steps / seconds, 1), "start_s": round(start_s, 2), "peak_rss_mib": rss}


def latency_scaling(counts: list[int], sleep_s: float, rounds: int) -> list[dict]:
    from agentgym.core.policy import SamplingParams
    from agentgym.rollout.collect import collect
    from agentgym.rollout.pool import make_pool
    from policies.scripted import RandomPolicy

    out = []
    for n in counts:
        pool = make_pool("agentgym/Synthetic-v0", "train", n, {"step_sleep_s": sleep_s, "length": 10},
                         backend="thread")
        try:
            resets = [{"seed": i} for i in range(n)]
            steps = seconds = 0.0
            for _ in range(rounds):
                _, stats = collect(pool, RandomPolicy(seed=0), resets, 1, SamplingParams())
                steps += stats.steps
                seconds += stats.total_s
        finally:
            pool.close()
        out.append({"envs": n, "steps_per_s": round(steps / seconds, 1)})
        print(f"  latency-bound, {n:>3} environments: {steps / seconds:8.1f} steps/s", flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="timed rollout rounds per cell")
    parser.add_argument("--envs", type=int, default=16, help="environments per pool (CPU-bound part)")
    parser.add_argument("--only", default=None, help="comma-separated subset of the CPU-bound environments")
    parser.add_argument("--latency-counts", default="1,4,16,64,256", help="concurrent environments (part 2)")
    parser.add_argument("--skip-latency", action="store_true", help="skip part 2")
    parser.add_argument("--json", default="bench/results/rollout_scaling.json", help="where to write the figures")
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (1 min)", flush=True)
    results: dict = {"cpu_count": os.cpu_count(), "load_1min": os.getloadavg()[0], "cpu_bound": {}}
    names = args.only.split(",") if args.only else list(CPU_ENVS)
    for name in names:
        env_id, kwargs, max_steps = CPU_ENVS[name]
        rows = []
        for backend, workers in CELLS:
            row = throughput(env_id, kwargs, max_steps, backend, workers, args.envs, args.rounds)
            rows.append(row)
            print(f"  {name:<26} {backend:<7} workers={workers or '-'}: {row['steps_per_s']:8.1f} steps/s "
                  f"(start {row['start_s']} s, peak RSS/worker MiB {row['peak_rss_mib']})", flush=True)
        results["cpu_bound"][name] = rows
    if not args.skip_latency:
        results["latency_bound"] = latency_scaling([int(c) for c in args.latency_counts.split(",")], 0.05,
                                                   args.rounds)
    _print_tables(results)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))


def _print_tables(results: dict) -> None:
    print("\n| environment | thread | process 1 | process 2 | ray 1 | ray 2 | process 2 / thread | ray 2 / process 2 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, rows in results["cpu_bound"].items():
        rate = {(r["backend"], r["workers"]): r["steps_per_s"] for r in rows}
        cells = [rate[c] for c in CELLS]
        print(f"| {name} | " + " | ".join(f"{c:.0f}" for c in cells)
              + f" | {rate[('process', 2)] / rate[('thread', None)]:.2f}x"
              f" | {rate[('ray', 2)] / rate[('process', 2)]:.2f} |")
    if "latency_bound" in results:
        base = results["latency_bound"][0]["steps_per_s"]
        print("\n| concurrent environments | steps/s | gain over 1 |\n|---|---|---|")
        for row in results["latency_bound"]:
            print(f"| {row['envs']} | {row['steps_per_s']:.0f} | {row['steps_per_s'] / base:.1f}x |")


if __name__ == "__main__":
    main()
