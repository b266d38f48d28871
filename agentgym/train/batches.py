"""Where each training iteration's batch comes from, and how the updated weights go back.

Two implementations of one interface (``agentgym.train.batch_source.BatchSource``), picked once by
``make_batch_source``: ``SyncRollouts`` collects the batch when the loop asks, on the rollout
engine, with the current weights; ``AsyncRollouts`` (``max_staleness > 0``) takes it from the
background producer (``agentgym.inference.producer``), sampled while the previous update ran, and
trajectories staler than the bound are dropped and counted. Either way a batch with more
infrastructure failures than ``max_infra_failure_frac`` stops the run after a checkpoint from which
it replays that batch (docs/rollout.md, "Fault model"), and steps another engine sampled are
rescored by the trained model. In a data-parallel run (``agentgym.train.distributed``) every rank
collects its block of the groups on its own engine and pool; the blocks are then gathered, so
every rank holds the whole batch and takes the same decisions.
"""

from __future__ import annotations

import time
from typing import Any

from agentgym import credit
from agentgym.core.types import Trajectory
from agentgym.inference.producer import RolloutProducer
from agentgym.inference.rescore import defer_to_update, rescore_steps
from agentgym.inference.staleness import drop_stale
from agentgym.inference.sync_check import greedy_match
from agentgym.rollout.collect import RolloutStats, collect
from agentgym.train.batch_source import BatchSource
from agentgym.train.config import TrainConfig
from agentgym.train.distributed import barrier, gather, group_block, reduce_metrics, sharded_map
from agentgym.train.trainer import Trainer, save_checkpoint
from agentgym.train.update import one_optimizer_step


class InfrastructureFailure(RuntimeError):
    """Too many episodes of one iteration failed for infrastructure reasons (docs/rollout.md, "Fault model")."""


def collect_batch(trainer: Trainer) -> tuple[list[Trajectory], RolloutStats]:
    """num_groups tasks x group_size rollouts on the generation engine, each group on one task and reset seed.

    Every rank draws all the tasks (the samplers stay equal) and collects its block of the groups;
    group and trajectory ids are the batch's, so the gathered blocks are the single-process batch.
    """
    config = trainer.config
    seeds = trainer.task_rng.integers(0, 2**31 - 1, size=config.num_groups)
    block = group_block(trainer.dist, config.num_groups)
    resets = [{"seed": int(s)} for s in seeds[block.start:block.stop]]
    trajectories, stats = collect(trainer.train_pool, trainer.engine, resets, config.group_size, config.sampling(),
                                  config, episode_retries=config.episode_retries,
                                  info_keys=info_keys(trainer))
    if block.start:
        _shift_ids(trajectories, block.start, config.group_size)
    return trajectories, stats


def _shift_ids(trajectories: list[Trajectory], groups_before: int, group_size: int) -> None:
    for traj in trajectories:
        for item in (traj, *traj.steps):
            item.group_id += groups_before
            item.traj_id += groups_before * group_size


def gather_batch(trainer: Trainer, trajectories: list[Trajectory],
                 stats: RolloutStats) -> tuple[list[Trajectory], RolloutStats]:
    """Every rank's block of the batch, on every rank, in group order; their stats merged."""
    if not trainer.dist.enabled:
        return trajectories, stats
    parts = gather(trainer.dist, (trajectories, stats))
    return [t for part, _ in parts for t in part], RolloutStats.merged([s for _, s in parts])


def rollout(trainer: Trainer) -> tuple[list[Trajectory], RolloutStats]:
    """One synchronous batch: collect it (every rank its block), then check it for infrastructure failures."""
    rng_before = trainer.task_rng.bit_generator.state
    trajectories, stats = gather_batch(trainer, *collect_batch(trainer))
    check_infrastructure(trainer, stats, rng_before)
    return trajectories, stats


def rescore(trainer: Trainer, trajectories: list[Trajectory]) -> dict[str, float]:
    """The trained model's log-probs and entropies for steps another engine sampled (or, with
    ``recompute_old_logprobs``, for every batch), each rank scoring its block of the steps
    (``agentgym.inference.rescore``); nothing to do when the engine is the trained model itself, and
    left to the update's first forward when that update is one optimizer step (``update_scores_itself``)."""
    tick = time.perf_counter()
    metrics: dict[str, float] = {}
    config = trainer.config
    steps = [s for t in trajectories for s in t.steps if s.response_ids]
    if trainer.engine.rescores and not config.recompute_old_logprobs and update_scores_itself(config, len(steps)):
        metrics.update(defer_to_update(steps))  # the same on every rank: each holds the whole batch
    elif trainer.engine.rescores or config.recompute_old_logprobs:
        scored = iter(sharded_map(trainer.dist, lambda block: metrics.update(
            rescore_steps(trainer.policy, block, config.micro_batch_size)), steps,
            lockstep=trainer.parallel.sharded))
        for traj in trajectories:  # the gathered steps are copies: put them back in their trajectories
            traj.steps = [next(scored) if s.response_ids else s for s in traj.steps]
        metrics = reduce_metrics(trainer.dist, metrics, sum_keys=("rollout/rescored_steps",))
    metrics["time/rescore_s"] = time.perf_counter() - tick
    return metrics


def update_scores_itself(config: TrainConfig, steps: int) -> bool:
    """Whether the update's first forward can stand in for rescoring ``steps`` step samples: one optimizer
    step takes them all (one epoch, one mini-batch), and no credit function reads step entropies."""
    if config.rescore_on_policy or not one_optimizer_step(config, steps):
        return False
    functions = [credit.get(config.credit), *(credit.get_modifier(name) for name in config.modifiers),
                 *(credit.get_shaper(name) for name in config.shapers)]
    return not any(getattr(fn, "reads_entropy", False) for fn in functions)


def _fresh(trainer: Trainer, trajectories: list[Trajectory], stats: RolloutStats,
           metrics: dict[str, float]) -> tuple[list[Trajectory], RolloutStats, dict[str, float]]:
    """The batch within the staleness bound, rescored, with the policy version it trains."""
    trajectories, stale_metrics = drop_stale(trajectories, trainer.iteration, trainer.config.max_staleness)
    metrics.update(stale_metrics)
    metrics["rollout/policy_version"] = float(trainer.iteration)
    metrics.update(rescore(trainer, trajectories))
    return trajectories, stats, metrics


class SyncRollouts:
    """Each batch collected when the loop asks, with the weights of the last update (max_staleness = 0)."""

    def next(self, trainer: Trainer) -> tuple[list[Trajectory], RolloutStats, dict[str, float]]:
        trajectories, stats = rollout(trainer)
        return _fresh(trainer, trajectories, stats, {"time/rollout_wait_s": stats.total_s})

    def publish(self, trainer: Trainer, version: int) -> dict[str, float]:
        """Load the weights into the engine now (every rank), then check it samples what the trainer would."""
        tick = time.perf_counter()
        trainer.engine.load(trainer.engine.snapshot(trainer.policy), version)
        barrier(trainer.dist)  # ranks sharing a server: none samples before the one that pushes is done
        metrics = reduce_metrics(trainer.dist, {"time/sync_s": time.perf_counter() - tick})
        if trainer.sync_prompts:
            metrics["rollout/sync_greedy_match"] = greedy_match(trainer.engine, trainer.policy,
                                                                trainer.sync_prompts, trainer.config.max_new_tokens)
        return metrics

    def task_rng_state(self, trainer: Trainer) -> dict[str, Any]:
        return trainer.task_rng.bit_generator.state

    def close(self) -> None:
        pass


class AsyncRollouts:
    """Batches collected in the background on the engine while the loop updates (max_staleness > 0).

    The producer thread starts with the first ``next``, so whatever the run does before its first
    iteration (a feature's warm-up, the start-of-run evaluation) samples alone.
    """

    def __init__(self, max_staleness: int):
        self.max_staleness = max_staleness
        self.producer: RolloutProducer | None = None

    def next(self, trainer: Trainer) -> tuple[list[Trajectory], RolloutStats, dict[str, float]]:
        if self.producer is None:
            self.producer = RolloutProducer(trainer.engine, lambda: collect_batch(trainer), trainer.task_rng,
                                            self.max_staleness, trainer.iteration)
        batch, waited = self.producer.next(trainer.iteration)
        trajectories, stats = gather_batch(trainer, batch.trajectories, batch.stats)
        check_infrastructure(trainer, stats, batch.task_rng_state)
        metrics = reduce_metrics(trainer.dist, {"time/rollout_wait_s": waited, "time/sync_s": batch.sync_s})
        return _fresh(trainer, trajectories, stats, metrics)

    def publish(self, trainer: Trainer, version: int) -> dict[str, float]:
        """Hand the snapshot to the producer; the engine loads it between two batches."""
        tick = time.perf_counter()
        snapshot = trainer.engine.snapshot(trainer.policy)
        if self.producer is not None:
            self.producer.publish(snapshot, version)
        return {"time/snapshot_s": time.perf_counter() - tick}

    def task_rng_state(self, trainer: Trainer) -> dict[str, Any]:
        if self.producer is None:  # nothing drawn ahead yet
            return trainer.task_rng.bit_generator.state
        return self.producer.task_rng_state(trainer.iteration)

    def close(self) -> None:
        if self.producer is not None:
            self.producer.close()


def make_batch_source(max_staleness: int) -> BatchSource:
    """The one place that tells synchronous from asynchronous rollouts."""
    return AsyncRollouts(max_staleness) if max_staleness > 0 else SyncRollouts()


def check_infrastructure(trainer: Trainer, stats: RolloutStats, rng_before: dict[str, Any]) -> None:
    """Past ``max_infra_failure_frac`` failed episodes the run checkpoints (as of before this batch,
    so a resumed run replays it) and stops."""
    config = trainer.config
    if stats.infra_dropped_frac > config.max_infra_failure_frac:
        saved = save_checkpoint(trainer, task_rng_state=rng_before)
        raise InfrastructureFailure(
            f"iteration {trainer.iteration + 1}: {stats.failed_attempts} of {stats.attempts} episodes failed for "
            f"infrastructure reasons ({stats.env_errors} errors, {stats.env_timeouts} timeouts, "
            f"{stats.worker_deaths} worker deaths), more than max_infra_failure_frac={config.max_infra_failure_frac}."
            f" Checkpoint written to {saved}; fix the environment, then rerun with --resume true.")


def info_keys(trainer: Trainer) -> tuple[str, ...]:
    """Deferred info values the features' hooks read from steps (the rollout computes them)."""
    return tuple(dict.fromkeys(key for feature in trainer.features for key in feature.info_keys))
