"""Does the learned progress estimator track real progress? Its Spearman correlation with oracle progress.

The estimator (``rewards.progress``) is fitted on exploration rollouts of train tasks, from their final
rewards only; then, on held-out tasks (``valid_seen``, ``valid_unseen``) it never saw, its cumulative
progress sum_{k<=t} c_k is compared with the expert planner's oracle progress 1 - L_{t+1}/L_0. Beside it,
the step-count baseline (c_t = 1 for every step, so cumulative progress is t + 1) shows how much of the
correlation any estimator that pays every step gets for free. Every seed is run end to end (its own
exploration, fit and held-out rollouts, sampling seeded); the summary gives the mean, a 95% t-interval over
seeds and the lowest seed.

    python bench/progress_oracle.py                      # FrozenLake, seeds 0-4
    python bench/progress_oracle.py --seeds 0 --explore-tasks 64 --epochs 40   # the 2026-11-27 settings
    python bench/progress_oracle.py --env agentgym/ALFWorld-v0 --explorer expert:0.5 --explore-tasks 48

``--explorer model`` samples the model itself (temperature 1); a policy spec such as ``expert:0.4``
(expert with 40% random admissible steps) explores instead, for models too weak to succeed alone.
Writes ``bench/results/progress_oracle/<env>-<explorer>-<encoder>-spread<s>-seed<k>.json`` per seed and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from agentgym.core.policy import SamplingParams
from agentgym.rollout.collect import collect
from agentgym.rollout.episode import EpisodeSettings
from agentgym.rollout.pool import make_pool
from policies import from_spec
from policies.hf import HFPolicy
from rewards.progress import ProgressEstimator, ProgressSettings
from rewards.progress_oracle import oracle_correlation

RESULTS = Path(__file__).resolve().parent / "results" / "progress_oracle"
CHUNK_GROUPS = 16  # groups rolled out at once (bounds the number of live environments)
SPLITS = ("train", "valid_seen", "valid_unseen")


def seed_interval(values: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and the two-sided t-interval of the mean over seeds (a single seed: the value itself, twice)."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return mean, mean - half, mean + half


def step_count_baseline(trajectories) -> float:
    """Spearman of t + 1 (c_t = 1 on every step) with oracle progress."""
    ones = np.ones(sum(len(t) for t in trajectories))
    return oracle_correlation(trajectories, ones)["progress/oracle_spearman"]


def rollouts(env_id: str, split: str, policy, tasks: int, group_size: int, seed: int, max_new_tokens: int):
    rng = np.random.default_rng(seed)
    seeds = [int(s) for s in rng.integers(0, 2**31 - 1, size=tasks)]
    pool = make_pool(env_id, split, min(tasks, CHUNK_GROUPS) * group_size)
    sampling = SamplingParams(temperature=1.0, max_new_tokens=max_new_tokens)
    out = []
    try:
        for start in range(0, tasks, CHUNK_GROUPS):
            chunk = [{"seed": s} for s in seeds[start:start + CHUNK_GROUPS]]
            trajectories, _ = collect(pool, policy, chunk, group_size, sampling, EpisodeSettings(),
                                      info_keys=("expert_steps_left",))
            out.extend(trajectories)
    finally:
        pool.close()
    return out


def sequences(policy: HFPolicy, trajectory) -> list[tuple[list[int], list[int]]]:
    """(prompt, response) ids of each step, tokenised by the model whatever policy acted."""
    prompts = policy.encode_prompts([s.prompt for s in trajectory.steps])
    return [(p, policy.encode_response(s.response)) for p, s in zip(prompts, trajectory.steps)]


def run_seed(args, policy, seed: int) -> dict:
    """Explore train tasks, fit, and score the fit and both held-out splits for one seed."""
    torch.manual_seed(seed)  # the model's sampling (exploration and held-out rollouts)
    explorer = policy if args.explorer == "model" else from_spec(args.explorer, seed=seed)
    tick = time.time()
    train = rollouts(args.env, "train", explorer, args.explore_tasks, args.group_size, seed, args.max_new_tokens)
    explore_s = time.time() - tick
    settings = ProgressSettings(epochs=args.epochs, spread=args.spread, seed=seed)
    estimator = ProgressEstimator.build(args.encoder, policy, args.model, settings)
    train_steps = [sequences(policy, t) for t in train]  # tokenised once: fitted on, then scored
    tick = time.time()
    fit = estimator.fit(train_steps, [t.env_return for t in train])
    fit_s = time.time() - tick
    held = {"train": (train, estimator.predict([s for steps in train_steps for s in steps]))}
    for i, split in enumerate(SPLITS[1:]):
        trajs = rollouts(args.env, split, explorer, args.eval_tasks, args.group_size, seed + 1 + i, args.max_new_tokens)
        held[split] = (trajs, estimator.predict([s for t in trajs for s in sequences(policy, t)]))
    rows = [{"split": split, "trajectories": len(trajs), "success": float(np.mean([t.success for t in trajs])),
             "step_count_spearman": step_count_baseline(trajs), **oracle_correlation(trajs, c)}
            for split, (trajs, c) in held.items()]
    print(f"\n#### seed {seed}: fit {fit} ({explore_s:.0f} s exploring, {fit_s:.0f} s fitting)\n")
    print("| split | trajectories | explorer success | oracle steps | Spearman | step-count baseline |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['split']} | {r['trajectories']} | {r['success']:.2f} | {r['progress/oracle_steps']:.0f} "
              f"| {r['progress/oracle_spearman']:.3f} | {r['step_count_spearman']:.3f} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"{args.env.replace('/', '--')}-{args.explorer.replace(':', '')}-{args.encoder}-spread{args.spread:g}-seed{seed}.json"
    (RESULTS / name).write_text(json.dumps({"args": {**vars(args), "seed": seed}, "fit": fit, "rows": rows}, indent=2))
    return {"seed": seed, "fit": fit, "rows": {r["split"]: r for r in rows}}


def summary(results: list[dict]) -> str:
    """Per-seed Spearman, then mean, 95% t-interval and the lowest seed, per split (Markdown)."""
    lines = ["| seed | fit MSE / held-back MSE | " + " | ".join(SPLITS) + " |", "|---|---|" + "---|" * len(SPLITS)]
    for r in results:
        cells = [f"{r['rows'][s]['progress/oracle_spearman']:.3f}" for s in SPLITS]
        lines.append(f"| {r['seed']} | {r['fit']['progress/fit_loss']:.3f} / {r['fit'].get('progress/val_loss', float('nan')):.3f} "
                     f"| " + " | ".join(cells) + " |")
    for label, key in (("estimator", "progress/oracle_spearman"), ("step-count baseline", "step_count_spearman")):
        cells = []
        for split in SPLITS:
            values = [r["rows"][split][key] for r in results]
            mean, low, high = seed_interval(values)
            lowest = results[int(np.argmin(values))]["seed"]
            cells.append(f"{mean:.3f} [{low:.3f}, {high:.3f}], lowest {min(values):.3f} (seed {lowest})")
        lines.append(f"| {label}: mean [95% t-interval], lowest | | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def add_exploration_options(parser: argparse.ArgumentParser) -> None:
    """The options that fix what is explored and how the head is fitted (shared with progress_fit_seeds.py)."""
    parser.add_argument("--env", default="agentgym/FrozenLake-v0", help="environment id")
    parser.add_argument("--model", default=None, help="model folder; default: the tiny model for --env")
    parser.add_argument("--explore-tasks", type=int, default=256, help="train tasks explored (x --group-size)")
    parser.add_argument("--eval-tasks", type=int, default=64, help="tasks per held-out split (x --group-size)")
    parser.add_argument("--group-size", type=int, default=4, help="rollouts per task")
    parser.add_argument("--epochs", type=int, default=200, help="fit epochs (early stopping keeps the best)")
    parser.add_argument("--max-new-tokens", type=int, default=24, help="response length cap")


def load_model(args: argparse.Namespace) -> HFPolicy:
    """The policy at ``--model``, building the tiny model for ``--env`` first when none is given."""
    if args.model is None:
        from policies.tiny import default_model

        args.model = str(default_model(args.env, verbose=True))
    return HFPolicy.from_pretrained(args.model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_exploration_options(parser)
    parser.add_argument("--explorer", default="model", help="'model' or a policy spec (e.g. expert:0.4)")
    parser.add_argument("--encoder", choices=["policy", "separate"], default="policy")
    parser.add_argument("--spread", type=float, default=ProgressSettings.spread,
                        help="weight of sum_t c_t^2 in the fit (0: SPA-RL's loss; docs/credit.md)")
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated; each seed runs end to end")
    parser.add_argument("--seed", type=int, default=None, help="one seed (same as --seeds K)")
    args = parser.parse_args()
    seeds = [args.seed] if args.seed is not None else [int(k) for k in args.seeds.split(",")]
    policy = load_model(args)
    print(f"\n### {args.env}: explorer {args.explorer}, encoder {args.encoder}, model {args.model}")
    print(f"{args.explore_tasks} x {args.group_size} exploration rollouts, {args.epochs} epochs, spread {args.spread}, "
          f"{args.eval_tasks} x {args.group_size} rollouts per held-out split")
    results = [run_seed(args, policy, seed) for seed in seeds]
    print(f"\n### Spearman with oracle progress over seeds {seeds}\n\n{summary(results)}")


if __name__ == "__main__":
    main()
