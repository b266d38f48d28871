"""Does the learned progress estimator track real progress? Its Spearman correlation with oracle progress.

The estimator (``rewards.progress``) is fitted on exploration rollouts of train tasks, from their final
rewards only; then, on held-out tasks (``valid_seen``, ``valid_unseen``) it never saw, its cumulative
progress sum_{k<=t} c_k is compared with the expert planner's oracle progress 1 - L_{t+1}/L_0.

    python bench/progress_oracle.py --env agentgym/FrozenLake-v0
    python bench/progress_oracle.py --env agentgym/ALFWorld-v0 --explorer expert:0.5 --explore-tasks 48

``--explorer model`` samples the model itself (temperature 1); a policy spec such as ``expert:0.4``
(expert with 40% random admissible steps) explores instead, for models too weak to succeed alone.
Writes ``bench/results/progress_oracle/<env>-<explorer>-<encoder>-seed<k>.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from agentgym.policy import SamplingParams
from agentgym.pool import make_pool
from agentgym.rollout import PromptConfig, collect
from policies import from_spec
from policies.hf import HFPolicy
from rewards.progress import ProgressEstimator, ProgressSettings
from rewards.progress_oracle import oracle_correlation

RESULTS = Path(__file__).resolve().parent / "results" / "progress_oracle"
CHUNK_GROUPS = 16  # groups rolled out at once (bounds the number of live environments)


def rollouts(env_id: str, split: str, policy, tasks: int, group_size: int, seed: int, max_new_tokens: int):
    rng = np.random.default_rng(seed)
    seeds = [int(s) for s in rng.integers(0, 2**31 - 1, size=tasks)]
    pool = make_pool(env_id, split, min(tasks, CHUNK_GROUPS) * group_size)
    sampling = SamplingParams(temperature=1.0, max_new_tokens=max_new_tokens)
    out = []
    try:
        for start in range(0, tasks, CHUNK_GROUPS):
            chunk = [{"seed": s} for s in seeds[start:start + CHUNK_GROUPS]]
            trajectories, _ = collect(pool, policy, chunk, group_size, sampling, PromptConfig(),
                                      info_keys=("expert_steps_left",))
            out.extend(trajectories)
    finally:
        pool.close()
    return out


def sequences(policy: HFPolicy, trajectory) -> list[tuple[list[int], list[int]]]:
    """(prompt, response) ids of each step, tokenised by the model whatever policy acted."""
    prompts = policy.encode_prompts([s.prompt for s in trajectory.steps])
    return [(p, policy.encode_response(s.response)) for p, s in zip(prompts, trajectory.steps)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="agentgym/FrozenLake-v0")
    parser.add_argument("--model", default=None, help="model folder; default: the tiny model for --env")
    parser.add_argument("--explorer", default="model", help="'model' or a policy spec (e.g. expert:0.4)")
    parser.add_argument("--encoder", choices=["policy", "separate"], default="policy")
    parser.add_argument("--explore-tasks", type=int, default=64)
    parser.add_argument("--eval-tasks", type=int, default=32)
    parser.add_argument("--group-size", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=ProgressSettings.epochs)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.model is None:
        from policies.tiny import default_model

        args.model = str(default_model(args.env, verbose=True))
    policy = HFPolicy.from_pretrained(args.model)
    explorer = policy if args.explorer == "model" else from_spec(args.explorer, seed=args.seed)
    settings = ProgressSettings(epochs=args.epochs, seed=args.seed)

    tick = time.time()
    train = rollouts(args.env, "train", explorer, args.explore_tasks, args.group_size, args.seed, args.max_new_tokens)
    explore_s = time.time() - tick
    estimator = ProgressEstimator.build(args.encoder, policy, args.model, settings)
    train_steps = [sequences(policy, t) for t in train]  # tokenised once: fitted on, then scored
    tick = time.time()
    fit = estimator.fit(train_steps, [t.env_return for t in train])
    fit_s = time.time() - tick

    rows = [{"split": "train (fitted on)", "trajectories": len(train),
             "success": float(np.mean([t.success for t in train])),
             **oracle_correlation(train, estimator.predict([s for steps in train_steps for s in steps]))}]
    for i, split in enumerate(("valid_seen", "valid_unseen")):
        held = rollouts(args.env, split, explorer, args.eval_tasks, args.group_size, args.seed + 1 + i,
                        args.max_new_tokens)
        c = estimator.predict([s for t in held for s in sequences(policy, t)])
        rows.append({"split": split, "trajectories": len(held), "success": float(np.mean([t.success for t in held])),
                     **oracle_correlation(held, c)})

    print(f"\n### {args.env}: explorer {args.explorer}, encoder {args.encoder}, model {args.model}")
    print(f"fit: {fit} ({explore_s:.0f} s exploring, {fit_s:.0f} s fitting)\n")
    print("| split | trajectories | explorer success | oracle steps | Spearman |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['split']} | {r['trajectories']} | {r['success']:.2f} | {r['progress/oracle_steps']:.0f} "
              f"| {r['progress/oracle_spearman']:.3f} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"{args.env.replace('/', '--')}-{args.explorer.replace(':', '')}-{args.encoder}-seed{args.seed}.json"
    out = RESULTS / name
    out.write_text(json.dumps({"args": vars(args), "fit": fit, "rows": rows}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
