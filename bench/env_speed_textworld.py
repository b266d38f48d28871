"""TextWorld speed: generation time per game, and reset/step time of agentgym's environments against
raw ``textworld.start`` on the same games and the same commands (the expert's walkthrough).

Two raw baselines: textworld with the same ``EnvInfos`` agentgym requests (admissible commands,
facts, ...; no planner: ``ExpertTracker`` plans on demand), which isolates the wrapper's overhead,
and textworld with no extra infos, which shows what the rich infos themselves cost. Then a
training-like random walk (uniform admissible commands, expert values unread, as in RL rollouts)
with textworld planning on every step (``eager_planner``) and deriving every state's valid actions
(the behaviour before both were changed), with the planner on demand, and with the planner on demand
and the valid-actions table (``environments/textworld/valid_actions_cache.py``). Times are CPU seconds of this process
(``time.process_time``; the interpreter runs in-process), so other load on the machine does not
distort them; generation also counts the Inform 7 compiler subprocesses (children's CPU time) and
wall time. Usage:

    python bench/env_speed_textworld.py --games 3 --repeats 3 [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

FAMILIES = {
    "Simple": "agentgym/TextWorld-Simple-v0",
    "Cooking": "agentgym/TextWorld-Cooking-v0",
    "CoinCollector": "agentgym/TextWorld-CoinCollector-v0",
    "TreasureHunter": "agentgym/TextWorld-TreasureHunter-v0",
    "Custom": "agentgym/TextWorld-Custom-v0",
}


def cpu_with_children() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def timed(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def generation_times(env, task_ids: list[str]) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds to generate each game (the cache is a fresh temporary folder)."""
    walls, cpus = [], []
    for task_id in task_ids:
        wall, cpu = time.perf_counter(), cpu_with_children()
        env.game_file(task_id)
        walls.append(time.perf_counter() - wall)
        cpus.append(cpu_with_children() - cpu)
    return walls, cpus


def play_raw(game, commands: list[str]) -> tuple[list[float], list[float]]:
    """One playthrough on a started textworld environment: (reset times, step times)."""
    reset = timed(game.reset)
    return [reset], [timed(lambda c=command: game.step(c)) for command in commands]


def play_agentgym(env, task_id: str, commands: list[str]) -> tuple[list[float], list[float]]:
    reset = timed(lambda: env.reset(options={"task_id": task_id}))
    return [reset], [timed(lambda c=command: env.step(c)) for command in commands]


def random_walk_ms(env_id: str, task_ids: list[str], steps: int, eager: bool, table: bool = True) -> float:
    """Mean CPU ms per step (what an iteration pays) of a seeded random admissible walk, episodes of at most
    50 steps; ``table=False`` turns the valid-actions table off (``AGENTGYM_TEXTWORLD_CACHES=0``)."""
    import random

    import agentgym
    from environments.textworld import internals

    with internals.caches_switched(table):  # read whenever the walk loads a game
        env = agentgym.make(env_id, split="valid_seen", max_steps=50)
        env.unwrapped.eager_planner = eager
        rng, times, episode = random.Random(0), [], 0
        _, info = env.reset(options={"task_id": task_ids[0]})
        while len(times) < steps:
            action = rng.choice(info["admissible_actions"])
            start = time.process_time()
            _, _, terminated, truncated, info = env.step(action)
            times.append(time.process_time() - start)
            if terminated or truncated:
                episode += 1
                _, info = env.reset(options={"task_id": task_ids[episode % len(task_ids)]})
        env.close()
    return statistics.mean(times) * 1000.0


def bench_family(name: str, env_id: str, n_games: int, repeats: int, walk_steps: int = 300) -> dict[str, float]:
    import textworld

    import agentgym
    from environments.textworld.game_env import request_infos, start_game

    env = agentgym.make(env_id, split="valid_seen", max_steps=1000).unwrapped
    task_ids = list(env.task_ids()[:n_games])
    walls, cpus = generation_times(env, task_ids)
    raw_r, raw_s, bare_r, bare_s, ag_r, ag_s, lengths = [], [], [], [], [], [], []
    for task_id in task_ids:
        _, info = env.reset(options={"task_id": task_id})
        commands = []  # the expert's walkthrough, with a look and an inventory before every step
        while info["expert_action"] is not None:
            commands += ["look", "inventory", info["expert_action"]]
            info = env.step(info["expert_action"])[4]
        lengths.append(len(commands))
        path = env.game_file(task_id)
        raw, bare = start_game(path, request_infos()), start_game(path, textworld.EnvInfos())
        for _ in range(repeats):  # interleaved, so all three see the same load on the machine
            for (resets, steps), (r_out, s_out) in (
                (play_raw(raw, commands), (raw_r, raw_s)),
                (play_raw(bare, commands), (bare_r, bare_s)),
                (play_agentgym(env, task_id, commands), (ag_r, ag_s)),
            ):
                r_out.extend(resets)
                s_out.extend(steps)
        raw.close()
        bare.close()
    env.close()
    walks: dict[str, list[float]] = {"eager": [], "no_table": [], "lazy": []}
    for _ in range(repeats):  # interleaved, so the three see the same load
        walks["eager"].append(random_walk_ms(env_id, task_ids, walk_steps, eager=True, table=False))
        walks["no_table"].append(random_walk_ms(env_id, task_ids, walk_steps, eager=False, table=False))
        walks["lazy"].append(random_walk_ms(env_id, task_ids, walk_steps, eager=False, table=True))
    walk = {k: statistics.median(v) for k, v in walks.items()}
    ms = 1000.0
    return {"walk_eager_ms": walk["eager"], "walk_no_table_ms": walk["no_table"], "walk_ms": walk["lazy"],
            "walk_ratio": walk["lazy"] / walk["eager"], "family": name, "games": n_games,
            "plan": statistics.mean(lengths) / 3,
            "gen_wall_s": statistics.mean(walls), "gen_cpu_s": statistics.mean(cpus),
            "reset_raw_ms": statistics.median(raw_r) * ms, "reset_ms": statistics.median(ag_r) * ms,
            "step_bare_ms": statistics.median(bare_s) * ms, "step_raw_ms": statistics.median(raw_s) * ms,
            "step_ms": statistics.median(ag_s) * ms,
            "reset_over": statistics.median(ag_r) / statistics.median(raw_r) - 1,
            "step_over": statistics.median(ag_s) / statistics.median(raw_s) - 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--games", type=int, default=3, help="games per family (generated fresh)")
    parser.add_argument("--repeats", type=int, default=3, help="expert playthroughs per game and engine")
    parser.add_argument("--families", nargs="*", default=list(FAMILIES))
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    os.environ["AGENTGYM_CACHE"] = tempfile.mkdtemp(prefix="agentgym-bench-")  # measure generation, not the cache
    header = (f"{'family':<15}{'plan':>5}{'gen wall s':>11}{'gen cpu s':>10}{'reset raw ms':>13}{'reset ms':>9}"
              f"{'over':>7}{'step bare ms':>13}{'step raw ms':>12}{'step ms':>8}{'over':>7}"
              f"{'walk eager':>12}{'no table':>10}{'walk ms':>8}{'ratio':>7}")
    print(header)
    print("-" * len(header))
    rows = []
    for name in args.families:
        row = bench_family(name, FAMILIES[name], args.games, args.repeats)
        rows.append(row)
        print(f"{row['family']:<15}{row['plan']:>5.1f}{row['gen_wall_s']:>11.2f}{row['gen_cpu_s']:>10.2f}"
              f"{row['reset_raw_ms']:>13.2f}{row['reset_ms']:>9.2f}{row['reset_over']:>7.1%}"
              f"{row['step_bare_ms']:>13.2f}{row['step_raw_ms']:>12.2f}{row['step_ms']:>8.2f}{row['step_over']:>7.1%}"
              f"{row['walk_eager_ms']:>12.2f}{row['walk_no_table_ms']:>10.2f}{row['walk_ms']:>8.2f}"
              f"{row['walk_ratio']:>7.2f}", flush=True)
    print("\nraw = textworld.start with agentgym's EnvInfos; bare = textworld.start with default EnvInfos; "
          "times are medians of CPU time per call; 'over' = agentgym / raw - 1;\n"
          "walk = random admissible walk, mean CPU ms per step (median of the repeats): textworld planning every step "
          "and deriving valid actions every step (eager, the behaviour before), planner on demand without the "
          "valid-actions table (no table), and both (walk ms); ratio = walk ms / eager.")
    if args.json:
        args.json.write_text(json.dumps({"games": args.games, "repeats": args.repeats, "families": rows}, indent=2))


if __name__ == "__main__":
    main()
