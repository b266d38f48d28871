"""Sokoban-v0 speed: reset (a room generated and checked by the solver, then from the cache) and step, per room
layout of the default splits, and what reading the expert costs on and off its plan.

    python bench/env_speed_sokoban.py                  # 50 tasks per layout
    python bench/env_speed.py sokoban -- --tasks 20    # the same through the family runner

Columns (milliseconds; median / 95th percentile):
``reset new`` the first reset of a task in the process (generation: backward search and solver check),
``reset cached`` a later reset of it, ``step`` a random admissible move with its info (expert not read),
``expert on plan`` the expert's keys read while following it (the plan is remembered),
``expert off plan`` the expert's keys read after random moves (a new search whenever the position is new).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import agentgym
from environments.sokoban import env as sokoban_env
from environments.sokoban.generator import generate

LAYOUTS = ((6, 1), (6, 2), (7, 1), (7, 2), (8, 1), (8, 2))


def _ms(values: list[float]) -> str:
    a = np.asarray(values) * 1000
    return f"{np.median(a):.2f} / {np.percentile(a, 95):.2f}"


def measure(size: int, boxes: int, tasks: int, steps: int, rng: np.random.Generator) -> dict[str, list[float]]:
    env = agentgym.make("agentgym/Sokoban-v0", split="train", rooms=[[size, boxes]], num_tasks=tasks).unwrapped
    generate.cache_clear()
    sokoban_env._expert.cache_clear()
    times: dict[str, list[float]] = {"reset new": [], "reset cached": [], "step": [], "expert on plan": [],
                                     "expert off plan": []}
    for task_id in env.task_ids():
        for kind in ("reset new", "reset cached"):
            start = time.perf_counter()
            _, info = env.reset(options={"task_id": task_id})
            times[kind].append(time.perf_counter() - start)
        for _ in range(steps):  # the expert's own play: every position after the first is remembered
            start = time.perf_counter()
            action = info["expert_action"]
            info["expert_steps_left"]
            times["expert on plan"].append(time.perf_counter() - start)
            _, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
        _, info = env.reset(options={"task_id": task_id})
        for _ in range(steps):
            action = info["admissible_actions"][int(rng.integers(len(info["admissible_actions"])))]
            start = time.perf_counter()
            _, _, terminated, truncated, info = env.step(action)
            times["step"].append(time.perf_counter() - start)
            start = time.perf_counter()
            info["expert_action"]
            times["expert off plan"].append(time.perf_counter() - start)
            if terminated or truncated:
                break
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=50, help="tasks per layout")
    parser.add_argument("--steps", type=int, default=20, help="moves per task and policy")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    figures = {}
    print("| room | reset new | reset cached | step | expert on plan | expert off plan | off-plan max |")
    print("|---|---|---|---|---|---|---|")
    for size, boxes in LAYOUTS:
        times = measure(size, boxes, args.tasks, args.steps, rng)
        name = f"{size}x{size}, {boxes} box{'es' if boxes > 1 else ''}"
        figures[name] = {k: {"median_ms": float(np.median(v) * 1000), "p95_ms": float(np.percentile(v, 95) * 1000)}
                        for k, v in times.items()}
        print(f"| {name} | " + " | ".join(_ms(v) for v in times.values())
              + f" | {max(times['expert off plan']) * 1000:.1f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
