"""A pretrained instruct model beside the fixed baselines on held-out splits, as one table.

For each environment: ``random``, ``heuristic`` and ``expert`` (bench/baselines.py), then each model policy
zero-shot in both prompt styles (``compact``, ``instruct``) and any fine-tuned folders given with ``--tuned``,
greedy, one episode per task on the first ``--tasks`` tasks. Columns: episodes, success with its 95% Wilson
interval, invalid-action rate per step (no parsable action, or one the environment refused).

    python bench/pretrained_eval.py                                            # SmolLM2 on FrozenLake-v1
    python bench/pretrained_eval.py --tuned runs/smollm2_sft --split valid_unseen --tasks 100
    python bench/pretrained_eval.py --env agentgym/SQL-v0 --env agentgym/TextWorld-CoinCollector-v0 --tasks 10
    python bench/pretrained_eval.py --all-envs --tasks 10 --zero-shot-max-steps 8 \
        --model openai:smollm2@http://localhost:8011/v1 --tuned agentgym/FrozenLake-v1=openai:sft@http://localhost:8012/v1

The last form evaluates models served by vLLM (on a CPU: its CPU build in ``.venv-vllm``, ``python -m
vllm.entrypoints.openai.api_server --model FOLDER --served-model-name smollm2``), much faster than transformers;
this script runs in the project's venv, where every environment's dependencies are. Greedy tokens from another
engine can differ from transformers' where two logits nearly tie.

Each model is loaded once for every environment, in ``--dtype`` (bfloat16: the fast path on CPUs with bf16
instructions). Writes ``--json`` when given.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from pathlib import Path

from agentgym.core import plugins
from agentgym.core.registry import class_attribute, list_envs
from agentgym.eval.held_out import evaluate
from agentgym.eval.stats import wilson_interval
from agentgym.rollout.episode import EpisodeSettings
from agentgym.rollout.pool import make_pool

BASELINES = ("random", "heuristic", "expert")


def row(env_id: str, name: str, policy, split: str, tasks: int, episode: EpisodeSettings) -> dict:
    pool = make_pool(env_id, split, min(tasks, 32), env_kwargs=episode.env_kwargs_with_limit())
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


@functools.cache
def load(spec: str, dtype: str):
    """A model policy, loaded once for every environment (a ``vllm:`` spec starts an engine)."""
    return plugins.policy_from_spec(spec, dtype=dtype, device="cpu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", action="append", default=None, help="environment id (repeatable; default FrozenLake-v1)")
    parser.add_argument("--all-envs", action="store_true", help="every registered environment (overrides --env)")
    parser.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M-Instruct", help="zero-shot model (hub id, "
                        "folder or .gguf)")
    parser.add_argument("--tuned", action="append", default=[], help="fine-tuned policy: FOLDER for every "
                        "environment or ENV_ID=FOLDER for one (repeatable; evaluated in --tuned-style)")
    parser.add_argument("--tuned-style", default="compact", help="prompt style the --tuned folders were trained on")
    parser.add_argument("--split", default="valid_unseen", help="held-out split")
    parser.add_argument("--tasks", type=int, default=50, help="first N tasks of the split")
    parser.add_argument("--dtype", default="bfloat16", help="dtype of the model policies")
    parser.add_argument("--instruct-new-tokens", type=int, default=96, help="response budget of the instruct style "
                        "(room to think)")
    parser.add_argument("--zero-shot-max-steps", type=int, default=0, help="step cap of the zero-shot rows (0 = "
                        "the environment's own; a model that never answers with an action plays every episode to "
                        "its limit, which on long prompts costs the most)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()
    rows, skipped = [], []
    for env_id in list_envs("agentgym") if args.all_envs else args.env or ["agentgym/FrozenLake-v1"]:
        try:
            rows.extend(env_rows(env_id, args))
        except Exception as exc:  # noqa: BLE001 - one environment that cannot run here must not end the table
            skipped.append(f"{env_id}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            print(f"{env_id} skipped: {skipped[-1]}")
    print(f"\nsplit {args.split}, first {args.tasks} tasks, greedy, dtype {args.dtype}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| environment | policy | prompt | episodes | success (95% CI) | invalid-action rate |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['env']} | {r['policy']} | {r['style']} | {r['episodes']} | {r['success']:.2f} "
              f"({r['ci_low']:.2f}-{r['ci_high']:.2f}) | {r['invalid_rate']:.2f} |")
    for line in skipped:
        print(f"skipped {line}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "skipped": skipped}, indent=2))


def env_rows(env_id: str, args: argparse.Namespace) -> list[dict]:
    """The baselines, the model zero-shot in both prompt styles, and the fine-tuned folders, on one environment."""
    rows = []
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
    model = load(args.model, args.dtype)
    for style, new_tokens in (("compact", compact.max_new_tokens), ("instruct", args.instruct_new_tokens)):
        cap = args.zero_shot_max_steps or None
        episode = EpisodeSettings(env=env_id, prompt_style=style, max_new_tokens=new_tokens, max_steps=cap)
        name = f"{args.model} zero-shot" + (f", {cap} steps" if cap else "")
        rows.append(row(env_id, name, model, args.split, args.tasks, episode))
        print(rows[-1])
    for entry in args.tuned:
        target, _, folder = entry.rpartition("=")
        if target and target != env_id:
            continue
        episode = EpisodeSettings(env=env_id, prompt_style=args.tuned_style)
        rows.append(row(env_id, folder, load(folder, args.dtype), args.split, args.tasks, episode))
        print(rows[-1])
    return rows


if __name__ == "__main__":
    main()
