"""Everything one training run holds (``Trainer``), and its checkpoint: what a killed run resumes from.

``agentgym.train`` builds a ``Trainer`` in ``setup`` and advances it one iteration at a time; a
checkpoint (written atomically by ``agentgym.train.checkpoint``) holds the policy, the optimizer, the
features' state, both samplers and the counts, so ``--resume true`` continues the same run. In a
data-parallel run rank 0 writes it, with every rank's random-number state, and every rank reads it.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agentgym.core.types import Messages
from agentgym.inference import RolloutEngine
from agentgym.rollout.pool import EnvPool
from agentgym.train import checkpoint
from agentgym.train.batch_source import BatchSource
from agentgym.train.config import TrainConfig
from agentgym.train.data_parallel import DataParallel
from agentgym.train.distributed import SINGLE, DistContext, gather, shutdown, solo_work_barrier
from agentgym.train.features import TrainerFeature
from agentgym.util.metrics import MetricsLogger


@dataclass
class Trainer:
    """Everything one run holds; built by ``setup`` and advanced by ``train_iteration``."""

    config: TrainConfig
    policy: Any
    optimizer: torch.optim.Optimizer
    train_pool: EnvPool
    eval_pool: EnvPool | None
    train_eval_pool: EnvPool | None
    task_rng: np.random.Generator
    shuffle_rng: torch.Generator
    logger: MetricsLogger
    parallel: DataParallel  # the update's view of the policy (DDP or FSDP at world size > 1)
    features: list[TrainerFeature] = field(default_factory=list)  # optional parts, hooked in by one protocol
    engine: RolloutEngine | None = None  # where rollouts are sampled (the trained model itself by default)
    batches: BatchSource | None = None  # where each iteration's batch comes from (agentgym.train.batches)
    sync_prompts: list[Messages] = field(default_factory=list)  # held-out prompts of the weight-sync check
    summary_pools: dict[str, EnvPool] = field(default_factory=dict)  # summary_splits, checked at start and end
    dist: DistContext = SINGLE  # this process's rank in a data-parallel run (torchrun)
    iteration: int = 0  # updates applied so far: the policy version of the trained weights
    env_steps: int = 0  # environment steps collected so far (the budget benchmarks compare at)

    @property
    def eval_policy(self) -> Any:
        """What held-out checks sample from: the trained model, or the engine's copy when it is sharded."""
        return self.engine if self.parallel.sharded else self.policy

    def policy_writer(self) -> Callable[[str | Path], None]:
        """What rank 0 writes the trained policy with; gathers a sharded model's weights first, so
        every rank must call it."""
        full = self.parallel.full_state()
        return self.policy.save if full is None else functools.partial(self.policy.save, state_dict=full)

    def save_final_policy(self) -> None:
        """Write the trained policy to ``run_dir/final_policy``, atomically (every rank calls this; rank 0
        writes)."""
        write = self.policy_writer()
        if self.dist.is_main:
            checkpoint.save_final(self.config.run_dir, write)

    def close(self, clean: bool = False) -> None:
        """Stop the batch source, the engine, the logger and every pool, then leave the process group
        (``clean``: after a normal end, once every rank is done)."""
        if self.batches is not None:
            self.batches.close()
        if self.engine is not None:
            self.engine.close()
        self.logger.close()
        for pool in (self.train_pool, self.eval_pool, self.train_eval_pool, *self.summary_pools.values()):
            if pool is not None:
                pool.close()
        shutdown(self.dist, clean)


def restore_checkpoint(trainer: Trainer, path: Path) -> None:
    """Continue ``trainer`` exactly from the checkpoint at ``path`` (optimizer, features, samplers, counts)."""
    state = checkpoint.load_state(path, trainer.dist.rank)
    solo_work_barrier(trainer.dist)  # every rank has read it, at its own speed, before FSDP scatters the optimizer
    if not state["rng_restored"]:  # resumed at a larger world size: this rank's sampler starts afresh
        reseed_rank(trainer.config.seed + state["iteration"], trainer.dist.rank)
    trainer.parallel.load_optimizer_state(trainer.optimizer, state["optimizer"])
    saved = state.get("features", {})
    missing = [f.name for f in trainer.features if f.name not in saved]
    if missing:
        raise ValueError(f"checkpoint {path} holds no state for the feature(s) {missing} this config builds; "
                         f"resume with the config the run was started with ({path.parent / 'config.yaml'})")
    for feature in trainer.features:
        feature.load_state_dict(saved[feature.name])
    trainer.task_rng.bit_generator.state = state["task_rng"]
    trainer.shuffle_rng.set_state(state["shuffle_rng"])
    trainer.iteration = state["iteration"]
    trainer.env_steps = state.get("env_steps", 0)
    if trainer.dist.is_main:
        saved = state["saved_world_size"]
        note = "" if saved == trainer.dist.world_size else (
            f" (written at world size {saved}, resumed at {trainer.dist.world_size}: training continues, but the "
            "rollouts differ from the run's own continuation)")
        print(f"resumed from {path} at iteration {trainer.iteration}{note}", flush=True)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def reseed_rank(seed: int, rank: int) -> None:
    """Give rank > 0 its own sampling stream (rank 0 keeps the single-process one)."""
    if rank > 0:
        seed_everything(seed + 7919 * rank)


def save_checkpoint(trainer: Trainer, task_rng_state: dict[str, Any] | None = None) -> Path:
    """A checkpoint from which the run continues with the next iteration's rollouts.

    With asynchronous rollouts the task sampler has already drawn batches ahead, so the state saved
    is the one before the next batch to train on (a resumed run samples that batch again).
    """
    if task_rng_state is None:
        task_rng_state = trainer.batches.task_rng_state(trainer)
    write_policy = trainer.policy_writer()  # collectives first, on every rank; then rank 0 writes
    state = {
        "iteration": trainer.iteration, "env_steps": trainer.env_steps,
        "optimizer": trainer.parallel.optimizer_state(trainer.optimizer),
        "task_rng": task_rng_state, "shuffle_rng": trainer.shuffle_rng.get_state(),
        "config": trainer.config.to_dict(), "features": {f.name: f.state_dict() for f in trainer.features},
    }
    rng_states = gather(trainer.dist, checkpoint.rng_state())
    saved = (checkpoint.save(trainer.config.run_dir, trainer.iteration, state, write_policy,
                             keep=trainer.config.keep_checkpoints, rng_states=rng_states)
             if trainer.dist.is_main else checkpoint.checkpoint_dir(trainer.config.run_dir, trainer.iteration))
    solo_work_barrier(trainer.dist)  # every rank returns once the checkpoint is complete on disk
    return saved
