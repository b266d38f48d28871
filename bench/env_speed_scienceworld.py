"""ScienceWorld-v0 speed: a step of the wrapped environment against a step of the raw ``scienceworld`` engine on
the same actions (goal: <= 1.2x), and the reset time, in one run, with the machine's load printed.

    python bench/env_speed_scienceworld.py                 # 6 valid_unseen tasks, 3 rounds
    python bench/env_speed_scienceworld.py --rounds 1 --tasks boil-21 find-animal-225
    python bench/env_speed.py scienceworld                 # the same through the family runner

Each task's action sequence is its gold path. Per round and task, interleaved so the machine's load falls on
all alike: ``raw`` plays it with ``scienceworld``'s own API (``load``, ``reset``, ``step``, which computes the
valid actions, look and inventory every step, as the wrapper's info needs) on a JVM with the wrapper's
options; ``wrapped`` plays it through ``agentgym.make("agentgym/ScienceWorld-v0")`` (``reset``, ``step``
with every info key read); ``raw default JVM`` is the raw engine as ``scienceworld.ScienceWorldEnv`` starts it
(random identity hashes: its own gold path, so the actions differ slightly), which prices the deterministic
JVM. Reset: ``wrapped reset`` loads the task with its gold path from the disk cache (``cold``: the first
load, the simulator's gold agent plays the task first).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import agentgym

TASKS = ("boil-21", "use-thermometer-405", "test-conductivity-675", "find-animal-225", "chemistry-mix-24",
         "lifespan-longest-lived-93")


def load_line() -> str:
    return "load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + \
        f" on {os.cpu_count()} cores"


def play_raw(engine, task_id: str, actions: list[str]) -> tuple[float, list[float]]:
    from environments.scienceworld.tasks import parse_task_id

    task_type, variation = parse_task_id(task_id)
    start = time.perf_counter()
    engine.load(task_type, variation, "", generateGoldPath=False)
    engine.reset()
    reset = time.perf_counter() - start
    steps = []
    for action in actions:
        start = time.perf_counter()
        _, _, done, _ = engine.step(action)
        steps.append(time.perf_counter() - start)
        if done:
            break
    return reset, steps


def play_wrapped(env, task_id: str) -> tuple[float, list[float], list[str], bool]:
    start = time.perf_counter()
    _, info = env.reset(options={"task_id": task_id})
    dict(info)  # every key read, as the rollout does
    reset = time.perf_counter() - start
    steps, actions, success = [], [], False
    while info["expert_action"] is not None:
        actions.append(info["expert_action"])
        start = time.perf_counter()
        _, _, terminated, truncated, info = env.step(actions[-1])
        dict(info)
        steps.append(time.perf_counter() - start)
        success = info["success"]
        if terminated or truncated:
            break
    return reset, steps, actions, success


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()

    from scienceworld import ScienceWorldEnv as RawEnv

    from environments.scienceworld.engine import DETERMINISTIC_JVM_OPTIONS, ScienceWorldEngine

    os.environ["AGENTGYM_CACHE"] = cache = tempfile.mkdtemp(prefix="swbench_")  # a cold gold cache
    print(load_line(), flush=True)
    env = agentgym.make("agentgym/ScienceWorld-v0", split="valid_unseen").unwrapped
    raw_same = ScienceWorldEngine(DETERMINISTIC_JVM_OPTIONS)
    raw_default = RawEnv("", envStepLimit=10**9)
    times: dict[str, list[float]] = {k: [] for k in ("raw", "wrapped", "raw default JVM", "wrapped reset cold",
                                                     "wrapped reset", "raw reset", "raw default JVM reset")}
    per_task: dict[str, list[float]] = {}
    try:
        for task_id in args.tasks:  # cold resets: the gold agent plays each task once
            start = time.perf_counter()
            env.reset(options={"task_id": task_id})
            times["wrapped reset cold"].append(time.perf_counter() - start)
        for round_ in range(args.rounds):
            for task_id in args.tasks:
                reset, steps, actions, success = play_wrapped(env, task_id)
                assert success, f"{task_id}: the gold path did not solve the task"
                times["wrapped reset"].append(reset)
                times["wrapped"] += steps
                raw_reset, raw_steps = play_raw(raw_same, task_id, actions)
                times["raw reset"].append(raw_reset)
                times["raw"] += raw_steps
                per_task.setdefault(task_id, [0.0, 0.0])
                per_task[task_id][0] += sum(steps)
                per_task[task_id][1] += sum(raw_steps)
                raw_default.load(*task_id.rsplit("-", 1)[:1], int(task_id.rsplit("-", 1)[1]), "",
                                 generateGoldPath=True)
                default_actions = raw_default.get_gold_action_sequence()
                d_reset, d_steps = play_raw(raw_default, task_id, default_actions)
                times["raw default JVM reset"].append(d_reset)
                times["raw default JVM"] += d_steps
            print(f"round {round_ + 1}/{args.rounds} done; {load_line()}", flush=True)
    finally:
        env.close()
        raw_same.close()
        raw_default.close()
        shutil.rmtree(cache, ignore_errors=True)

    print("\n| measure | n | mean ms | median ms | p95 ms |\n|---|---|---|---|---|")
    figures = {}
    for name, values in times.items():
        a = np.asarray(values) * 1000
        figures[name] = {"n": len(a), "mean_ms": float(a.mean()), "median_ms": float(np.median(a)),
                         "p95_ms": float(np.percentile(a, 95))}
        print(f"| {name} | {len(a)} | {a.mean():.1f} | {np.median(a):.1f} | {np.percentile(a, 95):.1f} |")
    ratio = np.mean(times["wrapped"]) / np.mean(times["raw"])
    figures["wrapped / raw"] = float(ratio)
    print(f"\nstep time wrapped / raw (same actions, same JVM options): {ratio:.3f}x (goal <= 1.2x)")
    print(f"raw default JVM / raw deterministic JVM (per step): "
          f"{np.mean(times['raw default JVM']) / np.mean(times['raw']):.3f}x")
    for task_id, (wrapped, raw) in per_task.items():
        print(f"  {task_id}: wrapped / raw {wrapped / raw:.3f}x over {args.rounds} rounds")
    print(load_line())
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
