"""WebShop throughput and leak check: N concurrent sessions x M steps, over HTTP and in-process ASGI.

    python bench/env_speed_webshop.py                       # 64 sessions x 1,000 steps, both modes
    python bench/env_speed_webshop.py --sessions 8 --steps 200 --modes asgi --json out.json

Each session is one environment driven by its own thread with a mixed policy (the expert half the
time, a random admissible action otherwise, so searches, pages and purchases all occur). A monitor
samples open file descriptors and threads of this process and of the server process; the table
shows them at 10% of the run, at the end of the run and (this process) after every env is closed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import agentgym  # noqa: E402
from environments.webshop import client as shop_client  # noqa: E402


def proc_counts(pid: int | str = "self") -> tuple[int, int]:
    """(open file descriptors, threads) of a process, from /proc."""
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/status") as f:
        threads = next(int(line.split()[1]) for line in f if line.startswith("Threads:"))
    return fds, threads


def drive(env, steps: int, seed: int, errors: list, progress: list, index: int) -> None:
    rng = random.Random(seed)
    try:
        _, info = env.reset(seed=seed)
        for step in range(steps):
            admissible = info["admissible_actions"] or []
            if info["expert_action"] and (rng.random() < 0.5 or admissible == ["search[<your query>]"]):
                action = info["expert_action"]
            else:
                action = rng.choice(admissible) if admissible else "click[Back to Search]"
            _, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                _, info = env.reset(seed=seed * 100_003 + step)
            progress[index] = step + 1
    except Exception as exc:  # noqa: BLE001 - counted and printed
        errors.append(f"session {index}: {exc!r}")


def server_pid(mode: str) -> int | None:
    if mode != "http":
        return None
    servers = list(shop_client._SERVERS.values())
    return servers[0][0].process.pid if servers else None


def run(mode: str, sessions: int, steps: int, num_products: int) -> dict:
    before = proc_counts()
    envs = [agentgym.make("agentgym/WebShop-v0", mode=mode, num_products=num_products) for _ in range(sessions)]
    envs[0].reset(seed=0)  # load the catalogue / start the server before timing
    pid = server_pid(mode)
    errors: list[str] = []
    progress = [0] * sessions
    samples: dict[str, tuple] = {}
    threads = [threading.Thread(target=drive, args=(env, steps, i, errors, progress, i)) for i, env in enumerate(envs)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        done = sum(progress) / (sessions * steps)
        snapshot = (proc_counts(), proc_counts(pid) if pid else (None, None))
        if done >= 0.1 and "10%" not in samples:
            samples["10%"] = snapshot
        samples["end"] = snapshot
        time.sleep(0.5)
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    samples.setdefault("10%", samples.get("end", (proc_counts(), (None, None))))
    for env in envs:
        env.close()
    after = proc_counts()
    server_alive = pid is not None and os.path.exists(f"/proc/{pid}")
    return {"mode": mode, "sessions": sessions, "steps": sum(progress), "errors": errors, "seconds": elapsed,
            "before": before, "samples": samples, "after": after, "server_alive_after_close": server_alive}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1000, help="steps per session")
    parser.add_argument("--modes", nargs="+", default=["http", "asgi"], choices=["http", "asgi"])
    parser.add_argument("--num-products", type=int, default=20_000)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    rows = [run(mode, args.sessions, args.steps, args.num_products) for mode in args.modes]
    print(f"\nWebShop env speed: {args.sessions} sessions x {args.steps} steps, {args.num_products} products, "
          f"{os.cpu_count()} CPUs")
    head = (f"{'mode':<5} {'steps':>7} {'errors':>6} {'sec':>7} {'steps/s':>8}  {'client fds 0/10%/end/closed':>28}"
            f"  {'client thr 0/10%/end/closed':>28}  {'server fds 10%/end':>18}  {'server thr 10%/end':>18}")
    print(head)
    for r in rows:
        (c10, s10), (cend, send) = r["samples"]["10%"], r["samples"]["end"]
        cfds = f"{r['before'][0]}/{c10[0]}/{cend[0]}/{r['after'][0]}"
        cthr = f"{r['before'][1]}/{c10[1]}/{cend[1]}/{r['after'][1]}"
        sfds = f"{s10[0]}/{send[0]}" if s10[0] is not None else "-"
        sthr = f"{s10[1]}/{send[1]}" if s10[1] is not None else "-"
        print(f"{r['mode']:<5} {r['steps']:>7} {len(r['errors']):>6} {r['seconds']:>7.1f} "
              f"{r['steps'] / r['seconds']:>8.1f}  {cfds:>28}  {cthr:>28}  {sfds:>18}  {sthr:>18}")
        for error in r["errors"][:5]:
            print("  error:", error)
        if r["mode"] == "http":
            print(f"  server process still running after close: {r['server_alive_after_close']}")
    if args.json:
        figures = [{**r, "steps_per_s": r["steps"] / r["seconds"]} for r in rows]
        args.json.write_text(json.dumps({"num_products": args.num_products, "modes": figures}, indent=2))


if __name__ == "__main__":
    main()
