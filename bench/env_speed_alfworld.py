"""ALFWorld-v0: generation time, expert and random play on a sample, and speed next to alfworld's raw env.

    python bench/env_speed_alfworld.py --per-cell 2 --speed-games 6 [--iteration-groups 16] [--json PATH]

1. Generates a stratified sample (``--per-cell`` games for each task type x split) into a fresh
   cache and times it (wall and CPU seconds per game, extrapolated to 1,000 games).
2. Plays every sampled game with the oracle expert and once with uniformly random admissible
   commands (50 steps): success rates, and the expert's plan length per type.
3. On ``--speed-games`` games, replays the same commands (the expert's plan) through alfworld's raw
   text env (textworld.gym over the game files with alfworld's AlfredDemangler + AlfredInfos
   wrappers, as ``AlfredTWEnv.init_env`` builds it, batch 1, synchronous) and through
   ALFWorld-v0, with and without the text-generation caches (``textgen_cache``; the raw env runs
   with them off, as alfworld ships), and reports reset and step times (CPU seconds, one process;
   compare the ratios, the machine is shared).
4. One training-size iteration (``--iteration-groups`` tasks x ``--group-size`` rollouts of a
   uniformly random admissible policy, 50 steps at most, through ``agentgym.rollout.collect.collect`` on
   one thread): engine CPU time of the resets and steps (games generated beforehand).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def stratified_ids(per_cell: int) -> list[tuple[str, str]]:
    from environments.alfworld.splits import OFFICIAL_COUNTS, parse_task_id, split_task_ids

    picked = []
    for split in OFFICIAL_COUNTS:
        taken = defaultdict(int)
        for task_id in split_task_ids(split):
            task_type = parse_task_id(task_id)[0]
            if taken[task_type] < per_cell:
                taken[task_type] += 1
                picked.append((split, task_id))
    return picked


def time_generation(sample: list[tuple[str, str]]) -> tuple[float, float]:
    from environments.alfworld.gamefiles import ensure_game

    wall, cpu = time.perf_counter(), time.process_time()
    for split, task_id in sample:
        ensure_game(split, task_id)
    return time.perf_counter() - wall, time.process_time() - cpu


def play(env, task_id: str, policy: str, rng: random.Random) -> tuple[bool, int | None]:
    _, info = env.reset(options={"task_id": task_id})
    plan_length = info["expert_steps_left"]
    for _ in range(50):
        action = info["expert_action"] if policy == "expert" else rng.choice(info["admissible_actions"])
        _, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    return bool(info["success"]), plan_length


def play_sample(sample: list[tuple[str, str]]) -> dict:
    from environments.alfworld.env import ALFWorldEnv
    from environments.alfworld.splits import parse_task_id

    envs = {split: ALFWorldEnv(split=split) for split in {s for s, _ in sample}}
    rng = random.Random(0)
    rows = defaultdict(lambda: {"n": 0, "expert": 0, "random": 0, "plan": []})
    for split, task_id in sample:
        row = rows[parse_task_id(task_id)[0]]
        solved, plan_length = play(envs[split], task_id, "expert", rng)
        row["n"] += 1
        row["expert"] += solved
        row["plan"].append(plan_length)
        row["random"] += play(envs[split], task_id, "random", rng)[0]
    return rows


def raw_env(game_file: str):
    import textworld
    import textworld.gym
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos

    infos = textworld.EnvInfos(won=True, admissible_commands=True, extras=["gamefile"])
    env_id = textworld.gym.register_games([game_file], infos, batch_size=1, asynchronous=False,
                                          max_episode_steps=50, wrappers=[AlfredDemangler(), AlfredInfos])
    return textworld.gym.make(env_id)


def _measure(times: dict, reset, step, commands: list[str]) -> None:
    cpu = time.process_time()
    reset()
    times["reset"].append(time.process_time() - cpu)
    for command in commands:
        cpu = time.process_time()
        step(command)
        times["step"].append(time.process_time() - cpu)


def time_speed(games: list[tuple[str, str]]) -> dict:
    """Same games, same commands: alfworld's raw text env vs ALFWorld-v0 without and with the caches
    (each from a cold translation cache)."""
    from environments.alfworld import engine, textgen_cache
    from environments.alfworld.env import ALFWorldEnv

    result = {name: {"reset": [], "step": []} for name in ("raw", "ours_no_caches", "ours")}
    for split, task_id in games:
        env = ALFWorldEnv(split=split)
        commands = _expert_commands(env, task_id)
        textgen_cache.uninstall()
        raw = raw_env(str(env.game_path(task_id)))
        _measure(result["raw"], raw.reset, lambda c, raw=raw: raw.step([c]), commands)
        for name in ("ours_no_caches", "ours"):
            if name == "ours":
                textgen_cache.install()
            engine._translations.clear()
            ours = ALFWorldEnv(split=split)
            _measure(result[name], lambda ours=ours, t=task_id: ours.reset(options={"task_id": t}), ours.step,
                     commands)
    return result


def time_iteration(groups: int, group_size: int) -> dict:
    """Engine CPU seconds of one iteration of random admissible play (games generated first)."""
    from agentgym.core.policy import SamplingParams
    from agentgym.rollout.collect import collect
    from agentgym.rollout.pool import make_pool
    from environments.alfworld.gamefiles import ensure_game
    from policies.scripted import RandomPolicy

    task_ids = [task_id for split, task_id in stratified_ids(groups) if split == "train"][:groups]
    for task_id in task_ids:
        ensure_game("train", task_id)
    pool = make_pool("agentgym/ALFWorld-v0", "train", groups * group_size, backend="thread")
    try:
        cpu = time.process_time()
        trajectories, stats = collect(pool, RandomPolicy(seed=0), [{"options": {"task_id": t}} for t in task_ids],
                                      group_size, SamplingParams())
        cpu = time.process_time() - cpu
    finally:
        pool.close()
    return {"groups": groups, "group_size": group_size, "steps": stats.steps, "cpu_s": cpu,
            "env_wall_s": stats.env_s, "success_rate": sum(t.success for t in trajectories) / len(trajectories)}


def _expert_commands(env, task_id: str) -> list[str]:
    _, info = env.reset(options={"task_id": task_id})
    commands = []
    while info["expert_action"]:
        commands.append(info["expert_action"])
        _, _, terminated, truncated, info = env.step(info["expert_action"])
        if terminated or truncated:
            break
    return commands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-cell", type=int, default=2, help="games per (task type, split)")
    parser.add_argument("--speed-games", type=int, default=6)
    parser.add_argument("--iteration-groups", type=int, default=16, help="tasks of the iteration timed (0 = skip)")
    parser.add_argument("--group-size", type=int, default=8, help="rollouts per task of the iteration timed")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    os.environ["AGENTGYM_CACHE"] = tempfile.mkdtemp(prefix="alfworld-bench-")

    from environments.alfworld.splits import OFFICIAL_COUNTS

    print("| split | " + " | ".join(OFFICIAL_COUNTS["train"]) + " | total |")
    for split, counts in OFFICIAL_COUNTS.items():
        print(f"| {split} | " + " | ".join(str(c) for c in counts.values()) + f" | {sum(counts.values())} |")

    sample = stratified_ids(args.per_cell)
    wall, cpu = time_generation(sample)
    n = len(sample)
    print(f"\ngenerated {n} games: {wall / n:.2f} s wall, {cpu / n:.2f} s CPU per game (1 process); "
          f"1,000 games extrapolated: {1000 * wall / n / 60:.1f} min wall, {1000 * cpu / n / 60:.1f} min CPU")

    rows = play_sample(sample)
    print("\n| task type | games | expert solved | random solved | expert plan length (mean) |")
    for task_type, row in sorted(rows.items()):
        print(f"| {task_type} | {row['n']} | {row['expert']} | {row['random']} | {statistics.mean(row['plan']):.2f} |")

    speed = time_speed(sample[:: max(1, len(sample) // args.speed_games)][: args.speed_games])
    print("\n| env | reset (s CPU, load+reset of a new game) | step (s CPU) |")
    for name, times in speed.items():
        print(f"| {name} | {statistics.mean(times['reset']):.3f} | {statistics.mean(times['step']):.3f} |")
    means = {name: {kind: statistics.mean(t) for kind, t in times.items()} for name, times in speed.items()}
    overhead = means["ours"]["step"] / means["raw"]["step"] - 1
    print(f"ALFWorld-v0 / raw env, CPU: step {means['ours']['step'] / means['raw']['step']:.3f} "
          f"(without caches {means['ours_no_caches']['step'] / means['raw']['step']:.3f}), "
          f"reset {means['ours']['reset'] / means['raw']['reset']:.3f}")
    iteration = time_iteration(args.iteration_groups, args.group_size) if args.iteration_groups else None
    if iteration:
        print(f"\none iteration, {iteration['groups']} tasks x {iteration['group_size']} random rollouts: "
              f"{iteration['steps']} steps, engine {iteration['cpu_s'] / 60:.2f} CPU-min "
              f"({1000 * iteration['cpu_s'] / iteration['steps']:.1f} ms per step incl. resets), "
              f"success {iteration['success_rate']:.3f}")
    if args.json:
        args.json.write_text(json.dumps({
            "games": n, "gen_wall_s_per_game": wall / n, "gen_cpu_s_per_game": cpu / n,
            "expert_solved": sum(r["expert"] for r in rows.values()),
            "random_solved": sum(r["random"] for r in rows.values()),
            "speed_games": len(speed["ours"]["reset"]), "cpu_s": means, "step_overhead": overhead,
            "iteration": iteration}, indent=2))


if __name__ == "__main__":
    main()
