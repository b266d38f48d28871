"""A pretrained instruct model beside the fixed baselines on held-out splits, as one table.

For each environment: ``random``, ``heuristic`` and ``expert`` (bench/baselines.py), then each model policy
zero-shot in both prompt styles (``compact``, ``instruct``) and any fine-tuned folders given with ``--tuned``,
greedy, one episode per task on the first ``--tasks`` tasks. Columns: episodes, success with its 95% Wilson
interval, invalid-action rate per step (no parsable action, or one the environment refused).

    python bench/pretrained_eval.py                                            # SmolLM2 on FrozenLake-v1
    python bench/pretrained_eval.py --tuned runs/smollm2_sft --split valid_unseen --tasks 100
    python bench/pretrained_eval.py --env agentgym/SQL-v0 --env agentgym/TextWorld-CoinCollector-v0 --tasks 10

The model is loaded once per environment in ``--dtype`` (bfloat16: the fast path on CPUs with bf16
instructions). Writes ``--json`` when given.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from agentgym.core import plugins
from agentgym.core.registry import class_attribute
from agentgym.eval.held_out import evaluate
from agentgym.eval.stats import wilson_interval
from agentgym.rollout.episode import EpisodeSettings
from agentgym.rollout.pool import make_pool

BASELINES = ("random", "heuristic", "expert")


def row(env_id: str, name: str, policy, split: str, tasks: int, episode: EpisodeSettings) -> dict:
    pool = make_pool(env_id, split, min(tasks, 32), env_kwargs=episode.env_kwargs)
    start = time.perf_counter()
    try:
        result = evaluate(policy, pool, split, tasks, episode)
    finally:
        pool.close()
    wins = sum(t.success for t in result.trajectories)
    n = len(result.trajectories)
    low, high = wilson_interval(wins, n)
    metrics = result.metrics("")
    return {"env": env_id, "policy": name, "style": episode.prompt_style, "episodes": n, "success": wins / max(n, 1),
            "ci_low": low, "ci_high": high, "invalid_rate": metrics.get("invalid_action_rate", 0.0),
            "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", action="append", default=None, help="environment id (repeatable; default FrozenLake-v1)")
    parser.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M-Instruct", help="zero-shot model (hub id, "
                        "folder or .gguf)")
    parser.add_argument("--tuned", action="append", default=[], help="fine-tuned policy folder (repeatable; "
                        "evaluated in --tuned-style)")
    parser.add_argument("--tuned-style", default="compact", help="prompt style the --tuned folders were trained on")
    parser.add_argument("--split", default="valid_unseen", help="held-out split")
    parser.add_argument("--tasks", type=int, default=50, help="first N tasks of the split")
    parser.add_argument("--dtype", default="bfloat16", help="dtype of the model policies")
    parser.add_argument("--instruct-new-tokens", type=int, default=96, help="response budget of the instruct style "
                        "(room to think)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()
    rows = []
    for env_id in args.env or ["agentgym/FrozenLake-v1"]:
        compact = EpisodeSettings(env=env_id)
        for spec in BASELINES:
            if spec == "expert" and not class_attribute(env_id, "has_expert", True):
                continue
            try:
                policy = plugins.policy_from_spec(spec, env_id=env_id)
            except (ValueError, KeyError) as exc:  # no hand-written rule for this environment
                print(f"{env_id}: {spec} skipped ({exc})")
                continue
            rows.append(row(env_id, spec, policy, args.split, args.tasks, compact))
            print(rows[-1])
        model = plugins.policy_from_spec(args.model, dtype=args.dtype, device="cpu")
        for style, new_tokens in (("compact", compact.max_new_tokens), ("instruct", args.instruct_new_tokens)):
            episode = EpisodeSettings(env=env_id, prompt_style=style, max_new_tokens=new_tokens)
            rows.append(row(env_id, f"{args.model} zero-shot", model, args.split, args.tasks, episode))
            print(rows[-1])
        for folder in args.tuned:
            tuned = plugins.policy_from_spec(folder, dtype=args.dtype, device="cpu")
            episode = EpisodeSettings(env=env_id, prompt_style=args.tuned_style)
            rows.append(row(env_id, folder, tuned, args.split, args.tasks, episode))
            print(rows[-1])
    print(f"\nsplit {args.split}, first {args.tasks} tasks, greedy, dtype {args.dtype}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| environment | policy | prompt | episodes | success (95% CI) | invalid-action rate |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['env']} | {r['policy']} | {r['style']} | {r['episodes']} | {r['success']:.2f} "
              f"({r['ci_low']:.2f}-{r['ci_high']:.2f}) | {r['invalid_rate']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
