"""How much does the progress estimator's correlation depend on its own fit, rather than on the data?

For each exploration seed, one exploration and one set of held-out rollouts (the same ones
``progress_oracle.py --seed K`` draws); then the head is refitted on them for every ``--spreads`` weight and
every ``--head-seeds`` seed, and each fit's Spearman with oracle progress is printed. The sum-to-return loss
alone leaves the split of a return over the steps free, so refits of the same data can land on different
splits; ``spread`` (``ProgressSettings.spread``) is meant to remove that freedom.

    python bench/progress_fit_seeds.py --seeds 4 --spreads 0,0.3,1,3      # the 2026-12-03 sweep, with
    python bench/progress_fit_seeds.py --seeds 1 --spreads 0,0.1,0.3
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from progress_oracle import (  # bench/ is on the path when run as a script
    SPLITS,
    add_exploration_options,
    load_model,
    rollouts,
    sequences,
)

from rewards.progress import ProgressEstimator, ProgressSettings
from rewards.progress_oracle import oracle_correlation


def explore(args, policy, seed: int) -> dict:
    """Trajectories and tokenised steps of each split, drawn as ``progress_oracle.run_seed`` draws them."""
    torch.manual_seed(seed)
    data = {"train": rollouts(args.env, "train", policy, args.explore_tasks, args.group_size, seed, args.max_new_tokens)}
    for i, split in enumerate(SPLITS[1:]):
        data[split] = rollouts(args.env, split, policy, args.eval_tasks, args.group_size, seed + 1 + i,
                               args.max_new_tokens)
    return {split: (trajs, [sequences(policy, t) for t in trajs]) for split, trajs in data.items()}


def refit(policy, model: str, data: dict, spread: float, head_seed: int, epochs: int) -> dict[str, float]:
    """Spearman per split of one fit on ``data['train']``."""
    estimator = ProgressEstimator.build("policy", policy, model,
                                        ProgressSettings(epochs=epochs, spread=spread, seed=head_seed))
    trajs, steps = data["train"]
    estimator.fit(steps, [t.env_return for t in trajs])
    return {split: oracle_correlation(trajs, estimator.predict([s for t in steps for s in t]))["progress/oracle_spearman"]
            for split, (trajs, steps) in data.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_exploration_options(parser)
    parser.add_argument("--seeds", default="1,4", help="exploration seeds (comma-separated)")
    parser.add_argument("--spreads", default="0,0.3", help="spread weights to refit with (comma-separated)")
    parser.add_argument("--head-seeds", default="0,1,2", help="head initialisation seeds (comma-separated)")
    args = parser.parse_args()
    policy = load_model(args)
    head_seeds = [int(k) for k in args.head_seeds.split(",")]
    print(f"\n### {args.env}: Spearman with oracle progress per refit (head seeds {head_seeds}), then their mean\n")
    print("| exploration seed | spread | " + " | ".join(SPLITS) + " |")
    print("|---|---|" + "---|" * len(SPLITS))
    for seed in (int(k) for k in args.seeds.split(",")):
        data = explore(args, policy, seed)
        for spread in (float(s) for s in args.spreads.split(",")):
            fits = [refit(policy, args.model, data, spread, h, args.epochs) for h in head_seeds]
            cells = [" / ".join(f"{f[s]:.3f}" for f in fits) + f" (mean {np.mean([f[s] for f in fits]):.3f})"
                     for s in SPLITS]
            print(f"| {seed} | {spread:g} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
