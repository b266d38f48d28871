"""What playing on OpenEnv servers costs: the remote env-pool backend beside the thread and process backends.

    python bench/remote_backend.py [--rounds 3] [--envs 16] [--json bench/results/remote_backend.json]

Environment steps per second of ``agentgym.rollout.collect.collect`` (a uniformly random admissible policy, no
model time, resets included) on the same tasks, for Synthetic-v0 at no cost per step (the wire's own
cost), Synthetic-v0 burning 5 ms of CPU per step and TextWorld CoinCollector, with: the thread backend;
the process backend at 2 workers; the remote backend on 1 and on 2 ``agentgym.serve_env`` servers on
this machine (each its own process, so two use both cores). One untimed warm-up round per cell.
Compare ratios within one run; the machine is shared (the load average is printed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ENVS = {
    "Synthetic (no cost)": ("agentgym/Synthetic-v0", {"length": 20}, 30),
    "Synthetic (5 ms CPU/step)": ("agentgym/Synthetic-v0", {"step_cpu_s": 0.005, "length": 20}, 30),
    "TextWorld-CoinCollector": ("agentgym/TextWorld-CoinCollector-v0", {}, 30),
}
CELLS = [("thread", 0), ("process", 0), ("remote", 1), ("remote", 2)]  # (backend, servers)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def servers(env_id: str, kwargs: dict, count: int):
    """``count`` serve_env processes; yields their URLs once each answers /health; killed at the end."""
    import httpx

    procs, urls = [], []
    try:
        for _ in range(count):
            port = free_port()
            procs.append(subprocess.Popen([sys.executable, "-m", "agentgym.serve_env", env_id, "--port", str(port),
                                           "--env-kwargs", json.dumps(kwargs)], start_new_session=True,
                                          env={**os.environ, "OMP_NUM_THREADS": "1"}))
            urls.append(f"http://127.0.0.1:{port}")
        for url, proc in zip(urls, procs):
            deadline = time.monotonic() + 300
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server for {url} did not come up")
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
        yield urls
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def throughput(env_id: str, kwargs: dict, max_steps: int, backend: str, urls: list[str], envs: int,
               rounds: int) -> dict:
    from agentgym.core.policy import SamplingParams
    from agentgym.rollout.collect import collect
    from agentgym.rollout.pool import make_pool
    from policies.scripted import RandomPolicy

    pool = make_pool(env_id, "train", envs, kwargs, max_steps, backend=backend, workers=2,
                     remote_urls=urls or None)
    try:
        resets = [{"seed": 0, "options": {"task_id": t}} for t in pool.task_ids()[:envs]]
        collect(pool, RandomPolicy(seed=0), resets, 1, SamplingParams())  # warm-up
        steps = seconds = 0.0
        for _ in range(rounds):
            _, stats = collect(pool, RandomPolicy(seed=0), resets, 1, SamplingParams())
            assert stats.failed_attempts == 0, "an infrastructure failure in a benchmark round"
            steps += stats.steps
            seconds += stats.total_s
    finally:
        pool.close()
    return {"backend": backend, "servers": len(urls), "steps": int(steps), "seconds": round(seconds, 2),
            "steps_per_s": round(steps / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed rollout rounds per cell")
    parser.add_argument("--envs", type=int, default=16, help="environments per pool")
    parser.add_argument("--only", default=None, help="comma-separated subset of: " + ", ".join(ENVS))
    parser.add_argument("--json", default=None, help="where to write the figures")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(ENVS)
    print(f"load average before: {os.getloadavg()[0]:.2f}, cpus: {os.cpu_count()}")
    results = {}
    for name in names:
        env_id, kwargs, max_steps = ENVS[name]
        rows = []
        for backend, count in CELLS:
            with servers(env_id, kwargs, count) as urls:
                row = throughput(env_id, kwargs, max_steps, backend, urls, args.envs, args.rounds)
            rows.append(row)
            label = f"{backend}" + (f" x{count} server(s)" if count else "")
            print(f"  {name:<26} {label:<20} {row['steps_per_s']:8.1f} steps/s ({row['steps']} steps)", flush=True)
        thread = rows[0]["steps_per_s"]
        print(f"  {name:<26} remote/thread: " + ", ".join(
            f"{r['servers']} server(s) {r['steps_per_s'] / thread:.2f}" for r in rows if r["backend"] == "remote"))
        results[name] = rows
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
