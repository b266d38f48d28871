"""A trainer process for the data-parallel tests, run with python (world size 1) or under torchrun.

``collect BATCH MODEL RUN_DIR``: one batch of rollouts at world size 1, with rewards set so every group
has spread (the micro model cannot solve a task yet), pickled to BATCH.
``train BATCH MODEL RUN_DIR OUT [ddp|fsdp] [sampled|update]``: one iteration on that fixed batch; rank 0 saves
the trained parameters and the iteration's metrics to OUT. ``update``: the batch as if another engine had
sampled it and the update, one optimizer step, scored it itself (``defer_to_update``).
``slow-rank-0 MODEL RUN_DIR SECONDS``: a whole run (held-out checks, a checkpoint, the final policy) with ``collective_timeout_s=SECONDS``, whose rank 0 takes longer than that for
each piece of work it does alone.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import pickle
import sys
import time

import torch

from agentgym.inference.rescore import defer_to_update
from agentgym.train import checkpoint, held_out_checks
from agentgym.train.batches import rollout
from agentgym.train.config import TrainConfig
from agentgym.train.loop import run, train_on_batch
from agentgym.train.setup import setup


def config(model: str, run_dir: str, strategy: str = "ddp") -> TrainConfig:
    return TrainConfig(model=model, data_parallel=strategy, run_dir=run_dir, num_groups=5, group_size=2, max_steps=4,
                       max_new_tokens=8, eval_every=0, summary_splits=[], summary_baselines=[], tensorboard=False,
                       progress_bar=False, checkpoint_every=0, mini_batch_size=12, micro_batch_size=4, lr=1e-4, seed=1)


def main(mode: str, batch_path: str, model: str, run_dir: str, out: str | None = None,
         strategy: str = "ddp", old_logprobs: str = "sampled") -> None:
    settings = config(model, run_dir, strategy)
    trainer = setup(settings if old_logprobs == "sampled" else dataclasses.replace(settings, mini_batch_size=512))
    finished = False
    try:
        if mode == "collect":
            trajectories, stats = rollout(trainer)
            for traj in trajectories:  # returns 0, 0.5, 1 spread over every group
                traj.steps[-1].reward = (traj.traj_id % 3) / 2
            with open(batch_path, "wb") as f:
                pickle.dump((trajectories, stats), f)
            finished = True
            return
        with open(batch_path, "rb") as f:
            trajectories, stats = pickle.load(f)
        if old_logprobs == "update":
            defer_to_update([s for t in trajectories for s in t.steps])
        metrics = train_on_batch(trainer, trajectories, stats)
        full = trainer.parallel.full_state()  # a sharded model's weights, gathered on rank 0
        if trainer.dist.is_main:
            state = full if full is not None else trainer.policy.model.state_dict()
            torch.save({name: t.detach().clone() for name, t in state.items()}, out)
            with open(f"{out}.json", "w") as f:
                json.dump({k: v for k, v in metrics.items() if not k.startswith("time/")}, f)
        finished = True
    finally:
        trainer.close(clean=finished)


def slow_rank_0(model: str, run_dir: str, seconds: str) -> None:
    """Rank 0 sleeps past the lockstep timeout before clearing the folder (setup), before each held-out check (at
    the start and after iteration 1), writing the checkpoint and the final policy; the other rank must wait for
    it every time, on the solo-work group with its long timeout, and the run end normally."""
    timeout = float(seconds)
    if os.environ["RANK"] == "0":
        for module, name in ((checkpoint, "remove_stale_writes"), (held_out_checks, "evaluate"),
                             (checkpoint, "save"), (checkpoint, "save_final")):
            setattr(module, name, _slow(getattr(module, name), timeout + 2))
    run(dataclasses.replace(config(model, run_dir), collective_timeout_s=timeout, iterations=1, eval_every=1,
                            eval_episodes=2, train_eval_episodes=0, checkpoint_every=1))


def _slow(fn, seconds: float):
    @functools.wraps(fn)
    def slow(*args, **kwargs):
        print(f"rank 0 sleeps {seconds:g} s before {fn.__name__}", flush=True)
        time.sleep(seconds)
        return fn(*args, **kwargs)
    return slow


if __name__ == "__main__":
    if sys.argv[1] == "slow-rank-0":
        slow_rank_0(*sys.argv[2:])
    else:
        main(*sys.argv[1:])
