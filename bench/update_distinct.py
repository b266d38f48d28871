"""The update's time with every (prompt, response) pair scored once against every row scored, on one real batch.

Rollouts of a group often pass through the same state and answer it alike, so a batch holds copies of the same
(prompt, response) pair (``agentgym.inference.distinct_pairs``). The update scores each distinct pair once and
indexes the result back; this script times that against scoring every row (the update before it did so), on the
same batch, the same samples and the same weights (SGD at lr 0 reads the gradient and moves nothing), and checks
that both give the same gradient.

The batch is one iteration of the given training preset (rollouts, credit, LOOP's filter, as ``agentgym.train``
builds them):

    python bench/update_distinct.py --train-args "--config configs/smollm2_frozenlake_gigpo_vllm.yaml \
        --model runs/smollm2_sft_120 --model-dtype float32 --engine hf --num-groups 4"
"""

from __future__ import annotations

import argparse
import copy
import shlex
import tempfile
import time
from contextlib import contextmanager

import numpy as np
import torch

from agentgym.credit import filters
from agentgym.inference.distinct_pairs import distinct_rows
from agentgym.train import loop, update
from agentgym.train.config import parse_args


@contextmanager
def every_row_scored():
    """``update.score_distinct`` replaced by a plain ``policy.score`` of every row, as the update did before."""
    distinct = update.score_distinct

    def every_row(policy, samples, with_entropy=False):
        return policy.score([s.prompt_ids for s in samples], [s.response_ids for s in samples],
                            with_entropy=with_entropy)

    update.score_distinct = every_row
    try:
        yield
    finally:
        update.score_distinct = distinct


def one_batch(trainer) -> list[update.UpdateSample]:
    """The samples the trainer's update would get from its next batch."""
    trajectories, _, _ = trainer.batches.next(trainer)
    batch, _ = loop._step_batch(trainer, trajectories)
    keep = filters.varied_groups(batch, trainer.config.filter_zero_variance_groups)  # as loop.train_on_batch
    steps = [s for s, kept in zip((s for t in trajectories for s in t.steps), keep) if kept]
    batch = batch.subset(keep)
    _, advantages = loop._advantages(batch, trainer.config)
    signal, _ = filters.informative_trajectories(batch, advantages, trainer.config.min_abs_advantage)
    steps = [s for s, kept in zip(steps, signal) if kept]
    return loop._update_samples(trainer, steps, advantages[signal])


def timed_update(trainer, samples: list[update.UpdateSample]) -> tuple[float, torch.Tensor]:
    """Seconds of one ``ppo_update`` over copies of ``samples``, and the gradient it left."""
    policy = trainer.policy
    optimizer = torch.optim.SGD([p for p in policy.model.parameters() if p.requires_grad], lr=0.0)
    start = time.perf_counter()
    update.ppo_update(policy, optimizer, copy.deepcopy(samples), trainer.config, torch.Generator().manual_seed(0))
    seconds = time.perf_counter() - start
    grad = torch.cat([p.grad.flatten() for p in policy.model.parameters() if p.grad is not None])
    policy.model.zero_grad(set_to_none=True)
    return seconds, grad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-args", required=True, help="flags of python -m agentgym.train that build the run "
                        "(quoted): preset, model, dtype, engine, batch size")
    parser.add_argument("--repeats", type=int, default=1, help="timings of each way (alternating)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as run_dir:
        config = parse_args([*shlex.split(args.train_args), "--run-dir", run_dir, "--progress-bar", "false",
                             "--tensorboard", "false"])
        trainer = loop.prepare(config)
        try:
            tick = time.perf_counter()
            samples = one_batch(trainer)
            rollout_s = time.perf_counter() - tick
            distinct = len(distinct_rows(samples)[0])
            times: dict[str, list[float]] = {"every row": [], "distinct pairs": []}
            grads = {}
            for _ in range(args.repeats):
                with every_row_scored():
                    seconds, grads["every row"] = timed_update(trainer, samples)
                times["every row"].append(seconds)
                seconds, grads["distinct pairs"] = timed_update(trainer, samples)
                times["distinct pairs"].append(seconds)
        finally:
            trainer.close()
    gap = float((grads["every row"] - grads["distinct pairs"]).abs().max() / grads["every row"].abs().max())
    print(f"batch: {len(samples)} update samples, {distinct} distinct (prompt, response) pairs "
          f"({distinct / max(1, len(samples)):.2f}); rollouts {rollout_s:.0f} s")
    print(f"torch threads {torch.get_num_threads()}, dtype {next(trainer.policy.model.parameters()).dtype}")
    print("| update | seconds (each repeat) | mean |\n|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {', '.join(f'{v:.1f}' for v in values)} | {np.mean(values):.1f} |")
    print(f"speed-up {np.mean(times['every row']) / np.mean(times['distinct pairs']):.2f}x; "
          f"largest gradient difference {gap:.1e} of the largest gradient entry")


if __name__ == "__main__":
    main()
