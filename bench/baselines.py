"""The fixed baselines (random, heuristic, expert) on each environment's held-out splits, as one table.

What a trained policy has to beat before its number means anything: ``random`` picks uniformly among the
admissible actions, ``heuristic`` is the environment's hand-written rule (``policies/heuristics/``, reading only
the prompt), ``expert`` is the environment's planner (it sees the whole state). Greedy, one episode per task,
the first ``--tasks`` tasks of each split.

    python bench/baselines.py                                    # FrozenLake v0 and v1, 100 tasks
    python bench/baselines.py --tasks 20 --env-kwargs '{"num_tasks": 20}' --env agentgym/TextWorld-CoinCollector-v0
"""

from __future__ import annotations

import argparse
import json

from agentgym.core import plugins
from agentgym.eval.held_out import evaluate
from agentgym.rollout.pool import make_pool

SPLITS = ("valid_seen", "valid_unseen")


def success(env_id: str, spec: str, split: str, tasks: int, env_kwargs: dict) -> float:
    pool = make_pool(env_id, split, min(tasks, 20), env_kwargs=env_kwargs)
    try:
        policy = plugins.policy_from_spec(spec, env_id=env_id)
        return evaluate(policy, pool, split, tasks).metrics("")["success_rate"]
    finally:
        pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", action="append", default=None, help="environment id (repeatable)")
    parser.add_argument("--policies", default="random,heuristic,expert", help="comma-separated policy specs")
    parser.add_argument("--tasks", type=int, default=100, help="first N tasks of each split")
    parser.add_argument("--env-kwargs", type=json.loads, default={}, help='JSON, e.g. \'{"num_tasks": 20}\'')
    args = parser.parse_args()
    envs = args.env or ["agentgym/FrozenLake-v0", "agentgym/FrozenLake-v1"]
    specs = args.policies.split(",")
    print("| environment | " + " | ".join(f"{s} {split}" for split in SPLITS for s in specs) + " |")
    print("|---|" + "---|" * (len(specs) * len(SPLITS)))
    for env_id in envs:
        cells = []
        for split in SPLITS:
            for spec in specs:
                try:
                    cells.append(f"{success(env_id, spec, split, args.tasks, args.env_kwargs):.2f}")
                except ValueError as exc:  # no heuristic written for this environment, no expert, ...
                    cells.append(f"- ({exc})"[:40])
        print(f"| {env_id} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
