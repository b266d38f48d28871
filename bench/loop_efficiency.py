"""One iteration of the default training run, timed piece by piece.

Prints the rollout split into policy time and environment time, and the update's throughput
(response tokens/s of forward+backward+step) against a bare loop on the same model and batch: plain
teacher-forced forward, a masked log-likelihood loss, backward and an optimizer step, no PPO
book-keeping. Goals (issue 4): policy >= 85% of rollout time; update >= 80% of the bare loop.

    python bench/loop_efficiency.py [--iterations 3] [--json PATH] [TrainConfig flags, e.g. --num-groups 16]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch

from agentgym import credit
from agentgym.core.policy import SamplingParams
from agentgym.core.types import StepBatch
from agentgym.rollout.collect import collect
from agentgym.train import loop as train
from agentgym.train.config import parse_args
from agentgym.train.update import UpdateSample, ppo_update


def bare_loop(policy, samples: list[UpdateSample], micro_batch_size: int, lr: float) -> float:
    """Seconds for forward+backward+step over ``samples`` on a copy of the model (no PPO terms)."""
    model_copy = copy.deepcopy(policy.model)
    original, policy.model = policy.model, model_copy
    optimizer = torch.optim.AdamW(model_copy.parameters(), lr=lr)
    try:
        start = time.perf_counter()
        optimizer.zero_grad()
        for i in range(0, len(samples), micro_batch_size):
            micro = samples[i:i + micro_batch_size]
            logprobs, _, mask = policy.score([s.prompt_ids for s in micro], [s.response_ids for s in micro])
            (-(logprobs * mask).sum() / mask.sum()).backward()
        optimizer.step()
        return time.perf_counter() - start
    finally:
        policy.model = original


def one_iteration(trainer) -> dict[str, float]:
    config = trainer.config
    seeds = trainer.task_rng.integers(0, 2**31 - 1, size=config.num_groups)
    sampling = SamplingParams(temperature=config.temperature, max_new_tokens=config.max_new_tokens)
    trajectories, stats = collect(trainer.train_pool, trainer.policy, [{"seed": int(s)} for s in seeds],
                                  config.group_size, sampling, config)
    steps = [s for t in trajectories for s in t.steps]
    tick = time.perf_counter()
    batch = StepBatch.from_trajectories(trajectories)
    for name in config.shapers:
        batch = credit.get_shaper(name)(batch, **config.shaper_params.get(name, {}))
    adv = credit.get(config.credit)(batch, **config.credit_params)
    credit_s = time.perf_counter() - tick
    samples = train._update_samples(trainer, steps, adv)
    tokens = sum(len(s.response_ids) for s in samples)
    bare_s = bare_loop(trainer.policy, samples, config.micro_batch_size, config.lr)
    # a TrainConfig is an UpdateSettings; one optimizer step, like the bare loop
    settings = dataclasses.replace(config, mini_batch_size=max(config.mini_batch_size, len(samples)))
    tick = time.perf_counter()
    ppo_update(trainer.policy, trainer.optimizer, samples, settings, trainer.shuffle_rng)
    update_s = time.perf_counter() - tick
    return {"steps": len(steps), "tokens": tokens, "rollout_s": stats.total_s, "policy_s": stats.policy_s,
            "env_s": stats.env_s, "credit_s": credit_s, "update_s": update_s, "bare_s": bare_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args, rest = parser.parse_known_args()
    config = parse_args(rest + ["--run-dir", tempfile.mkdtemp(prefix="loop_eff_"), "--tensorboard", "false",
                                "--eval-every", "0"])
    trainer = train.setup(config)
    try:
        rows = [one_iteration(trainer) for _ in range(args.iterations)]
    finally:
        trainer.close()
    print(f"{'iter':>4} {'steps':>6} {'rollout_s':>9} {'policy%':>8} {'env%':>6} {'credit_ms':>9} "
          f"{'update tok/s':>12} {'bare tok/s':>10} {'ratio':>6}")
    for i, r in enumerate(rows):
        print(f"{i:>4} {r['steps']:>6} {r['rollout_s']:>9.2f} {100 * r['policy_s'] / r['rollout_s']:>7.1f}% "
              f"{100 * r['env_s'] / r['rollout_s']:>5.1f}% {1000 * r['credit_s']:>9.2f} "
              f"{r['tokens'] / r['update_s']:>12.0f} {r['tokens'] / r['bare_s']:>10.0f} "
              f"{r['bare_s'] / r['update_s']:>6.2f}")
    total = {k: sum(r[k] for r in rows) for k in rows[0]}
    shares = {"policy_share": total["policy_s"] / total["rollout_s"], "env_share": total["env_s"] / total["rollout_s"],
              "update_vs_bare": total["bare_s"] / total["update_s"],
              "credit_share": total["credit_s"] / (total["rollout_s"] + total["credit_s"] + total["update_s"])}
    print(f"\npolicy share of rollout: {100 * shares['policy_share']:.1f}% (goal >= 85%)")
    print(f"environment share of rollout: {100 * shares['env_share']:.1f}%")
    print(f"update throughput vs bare loop: {100 * shares['update_vs_bare']:.1f}% (goal >= 80%)")
    print(f"credit ({config.credit}) share of iteration: {100 * shares['credit_share']:.3f}%")
    if args.json:
        args.json.write_text(json.dumps({"credit": config.credit, "iterations": rows, **shares}, indent=2))


if __name__ == "__main__":
    main()
