"""``python -m agentgym.train``: the one rollout-and-update loop every credit-assignment method shares.

Read top to bottom: setup (``agentgym.train.setup``), then per iteration batch -> shape -> credit ->
update -> weight sync -> evaluate -> log -> checkpoint. Each batch comes from the run's batch source
(``agentgym.train.batches``): sampled now on the generation engine (``agentgym.inference``: the trained
model itself, vLLM, or a server), or with ``max_staleness > 0`` in the background while the previous
batch trains; the loop never asks which. Algorithms are looked up by name in ``agentgym.credit``,
optional parts (reference model, critic, EPO, ArCHer, IGPO, progress attribution) are trainer features
(``agentgym.train.features``) called through one set of hooks, and the batch filters (dynamic sampling,
LOOP's) are pure functions (``agentgym.credit.filters``): this file never branches on an algorithm, a
feature or a mode. Defaults (``TrainConfig``) run on a laptop CPU: the offline tiny model,
SFT-warm-started on FrozenLake, trained with GiGPO. Beside it: the run's state and checkpoint
(``agentgym.train.trainer``), the held-out checks (``agentgym.train.held_out_checks``). Under
``torchrun`` every rank runs this same loop on its block of the groups and its rows of each mini-batch
(``agentgym.train.distributed``, ``agentgym.train.data_parallel``); rank 0 alone evaluates, logs and
checkpoints.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from agentgym import credit
from agentgym.core.types import StepBatch, Trajectory
from agentgym.credit import filters
from agentgym.credit.entropy_diagnostics import entropy_diagnostics
from agentgym.credit.penalty import check_reads_step_penalty
from agentgym.eval.held_out import summarise
from agentgym.rollout.collect import RolloutStats
from agentgym.train import checkpoint, run_folder
from agentgym.train.batches import InfrastructureFailure, rollout
from agentgym.train.config import ConfigFileError, TrainConfig, parse_args
from agentgym.train.distributed import RankTimeout, sharded_map, solo_work_barrier, timeouts_explained
from agentgym.train.held_out_checks import baseline_metrics, evaluate_now
from agentgym.train.setup import check_config, check_world, setup
from agentgym.train.trainer import Trainer, save_checkpoint
from agentgym.train.update import UpdateSample, ppo_update
from agentgym.util import console
from agentgym.util.cli_errors import check_model_path, one_line_errors
from agentgym.util.metrics import read_metrics
from agentgym.util.plots import plot_learning_curve

__all__ = ["InfrastructureFailure", "Trainer", "check_config", "check_world", "evaluate_now", "main", "run", "setup",
           "train_iteration", "train_on_batch"]

# ------------------------------------------------------------------------------------- one iteration
def train_iteration(trainer: Trainer) -> dict[str, float]:
    start = time.perf_counter()
    trajectories, stats, engine_metrics = trainer.batches.next(trainer)  # synchronous or asynchronous alike
    return train_on_batch(trainer, trajectories, stats, engine_metrics, start)


def train_on_batch(trainer: Trainer, trajectories: list[Trajectory], stats: RolloutStats,
                   engine_metrics: dict[str, float] | None = None, start: float | None = None) -> dict[str, float]:
    """Shape, credit, update and weight sync on one whole batch (every rank passes the same one)."""
    config, start = trainer.config, time.perf_counter() if start is None else start
    engine_metrics = dict(engine_metrics or {})
    # shape, then credit, on the unpadded step batch (dynamic sampling drops flat groups first)
    tick = time.perf_counter()
    batch, progress_metrics = _step_batch(trainer, trajectories)
    rollout_metrics = {**_rollout_metrics(trajectories, batch), **progress_metrics, **engine_metrics}
    keep = filters.varied_groups(batch, config.filter_zero_variance_groups)  # dynamic sampling
    steps = [s for s, kept in zip((s for t in trajectories for s in t.steps), keep) if kept]
    batch = batch.subset(keep)
    raw_advantages, advantages = _advantages(batch, config)
    credit_s = time.perf_counter() - tick
    metrics = {**rollout_metrics, **_credit_metrics(batch, raw_advantages, advantages, config)}
    # LOOP's filter: rollouts that teach nothing leave the update's averages
    signal, filter_metrics = filters.informative_trajectories(batch, advantages, config.min_abs_advantage)
    steps = [s for s, kept in zip(steps, signal) if kept]
    batch, advantages = batch.subset(signal), advantages[signal]
    keep[np.flatnonzero(keep)[~signal]] = False
    metrics.update(filter_metrics)
    # update
    tick = time.perf_counter()
    samples = _update_samples(trainer, steps, advantages)
    loss_terms = [term for feature in trainer.features for term in feature.loss_terms()]
    metrics.update(ppo_update(trainer.policy, trainer.optimizer, samples, config, trainer.shuffle_rng,
                              loss_terms, trainer.iteration, parallel=trainer.parallel))
    for feature in trainer.features:
        metrics.update(feature.after_update(steps, batch))
    update_s = time.perf_counter() - tick
    metrics.update(trainer.batches.publish(trainer, trainer.iteration + 1))  # the engine gets the new weights
    metrics["rollout/kept_steps_frac"] = float(keep.mean()) if len(keep) else 0.0
    metrics.update(stats.metrics())
    trainer.env_steps += stats.steps
    metrics["rollout/env_steps_total"] = float(trainer.env_steps)
    metrics.update({"time/rollout_s": stats.total_s, "time/policy_s": stats.policy_s, "time/env_s": stats.env_s,
                    "time/credit_s": credit_s, "time/update_s": update_s,
                    "time/iteration_s": time.perf_counter() - start,
                    "rollout/response_tokens": stats.response_tokens / max(stats.steps, 1)})
    return metrics


def _advantages(batch: StepBatch, config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """(estimator advantages, the same after the modifiers); empty when dynamic sampling dropped all."""
    if len(batch) == 0:
        return np.zeros(0), np.zeros(0)
    estimator = credit.get(config.credit)
    check_reads_step_penalty(config.credit, estimator, batch)
    raw = estimator(batch, **config.credit_params)
    advantages = raw.copy()
    for name in config.modifiers:
        advantages = credit.get_modifier(name)(batch, advantages, **config.modifier_params.get(name, {}))
    return raw, advantages


def _step_batch(trainer: Trainer, trajectories: list[Trajectory]) -> tuple[StepBatch, dict[str, float]]:
    """Columns for credit (identity, shaped reward, entropy, success flags, the features' columns)."""
    batch, metrics = StepBatch.from_trajectories(trajectories), {}
    batch = batch.with_extras(traj_success=[t.success for t in trajectories for _ in t.steps],
                              env_reward=batch.reward.copy())
    for feature in trainer.features:  # e.g. critic values, progress contributions
        batch, feature_metrics = feature.annotate(trajectories, batch)
        metrics.update(feature_metrics)
    for name in trainer.config.shapers:
        batch = credit.get_shaper(name)(batch, **trainer.config.shaper_params.get(name, {}))
    return batch, metrics


def _update_samples(trainer: Trainer, steps, advantages: np.ndarray) -> list[UpdateSample]:
    # no log-probs yet: rescoring was left to the update's first forward (agentgym.inference.rescore.defer_to_update)
    samples = [UpdateSample(s.prompt_ids, s.response_ids, s.logprobs or None, float(a), traj_id=s.traj_id,
                            rollout_logprobs=s.rollout_logprobs)
               for s, a in zip(steps, advantages) if s.response_ids]

    def prepare(block: list[UpdateSample]) -> None:  # each rank its block; every rank gets all back
        for feature in trainer.features:  # e.g. reference log-probs
            feature.prepare(block)

    return sharded_map(trainer.dist, prepare, samples, lockstep=trainer.parallel.sharded)


def _credit_metrics(batch: StepBatch, raw: np.ndarray, advantages: np.ndarray,
                    config: TrainConfig) -> dict[str, float]:
    """Advantage statistics, the estimator's own diagnostics, and entropy/modifier diagnostics."""
    if len(batch) == 0:
        return {}
    metrics = {"credit/adv_mean": float(advantages.mean()), "credit/adv_std": float(advantages.std()),
               "credit/adv_abs_mean": float(np.abs(advantages).mean()),
               "credit/shaped_reward_mean": float(batch.reward.mean())}
    if config.credit in credit.DIAGNOSTICS:
        metrics.update(credit.DIAGNOSTICS.get(config.credit)(batch, raw, **config.credit_params))
    if not np.isnan(batch.entropy).all():
        metrics.update(entropy_diagnostics(batch, raw, advantages))
    return metrics


def _rollout_metrics(trajectories: list[Trajectory], batch: StepBatch) -> dict[str, float]:
    metrics = summarise(trajectories, "rollout/")
    if not trajectories:  # every episode was lost to infrastructure failures (max_infra_failure_frac = 1)
        return metrics
    _, groups, returns = batch.trajectory_returns()
    zero_var = [np.ptp(returns[groups == g]) <= 1e-8 for g in np.unique(groups)]
    entropy = batch.entropy[~np.isnan(batch.entropy)]
    metrics.update({
        "rollout/zero_variance_group_frac": float(np.mean(zero_var)),
        "rollout/return_mean": float(np.mean([t.env_return for t in trajectories])),
        "rollout/entropy_mean": float(entropy.mean()) if len(entropy) else float("nan"),
        "rollout/steps": float(len(batch)),
    })
    return metrics


# ------------------------------------------------------------------------------------ run, log
def run(config: TrainConfig) -> dict[str, float]:
    """Train for ``config.iterations`` iterations; returns the last iteration's metrics."""
    return train(prepare(config))


def prepare(config: TrainConfig) -> Trainer:
    """Check the settings, then build the run (``setup``): everything before the first rollout."""
    config.check_run_settings()
    check_model_path("--model", config.model)
    return setup(config)


def train(trainer: Trainer) -> dict[str, float]:
    """The run ``prepare`` built: warm-up, start-of-run checks, the iterations, the final policy."""
    metrics: dict[str, float] = {}
    finished = False
    try:
        with timeouts_explained(trainer.dist):  # DDP's all-reduce, FSDP's gathers
            metrics = _iterate(trainer)
        finished = True
    finally:
        trainer.close(clean=finished)
    return metrics


def _iterate(trainer: Trainer) -> dict[str, float]:
    config = trainer.config
    metrics: dict[str, float] = {}
    if trainer.iteration == 0:
        metrics.update(_warm_up(trainer))
    if trainer.iteration == 0 and config.eval_at_start and trainer.eval_pool is not None:
        metrics.update(evaluate_now(trainer, summary=True))
        metrics.update(baseline_metrics(trainer))
    if metrics:
        _log(trainer, metrics)
    solo_work_barrier(trainer.dist)  # the other ranks wait here while rank 0 checks the starting policy
    console.phase("train", f"{config.iterations - trainer.iteration} iterations of {config.credit} "
                           f"(run folder {config.run_dir})")
    bar = tqdm(range(trainer.iteration, config.iterations), initial=trainer.iteration, total=config.iterations,
               desc="train", disable=not config.progress_bar or not trainer.dist.is_main, dynamic_ncols=True)
    for _ in bar:
        metrics = train_iteration(trainer)
        trainer.iteration += 1
        for feature in trainer.features:  # e.g. progress estimator refits
            metrics.update(feature.end_iteration(trainer.iteration))
        budget_spent = config.max_env_steps is not None and trainer.env_steps >= config.max_env_steps
        last = trainer.iteration == config.iterations or budget_spent
        if config.eval_every > 0 and (trainer.iteration % config.eval_every == 0 or last):
            metrics.update(evaluate_now(trainer, summary=last))
            solo_work_barrier(trainer.dist)  # the other ranks wait here while rank 0 evaluates
        _log(trainer, metrics)
        bar.set_postfix(success=f"{metrics.get('rollout/success_rate', float('nan')):.2f}")
        if config.checkpoint_every > 0 and (trainer.iteration % config.checkpoint_every == 0 or last):
            save_checkpoint(trainer)
        if budget_spent:
            break
    _finish(trainer, metrics)
    return metrics


def _log(trainer: Trainer, metrics: dict[str, float]) -> None:
    """Every metric to the logs; to the console a compact line, and all of them every console_table_every."""
    trainer.logger.log(trainer.iteration, metrics)
    if not trainer.dist.is_main:
        return
    every = trainer.config.console_table_every
    tqdm.write(console.compact_line(trainer.iteration, metrics, trainer.config.iterations))
    if every and trainer.iteration and trainer.iteration % every == 0:
        tqdm.write(console.full_table(trainer.iteration, metrics))


def _warm_up(trainer: Trainer) -> dict[str, float]:
    """The features' work before the first iteration (e.g. progress exploration; its env steps count)."""
    def counted_rollout() -> list[Trajectory]:
        trajectories, stats = rollout(trainer)
        trainer.env_steps += stats.steps
        return trajectories

    metrics: dict[str, float] = {}
    for feature in trainer.features:
        metrics.update(feature.warm_up(counted_rollout))
    if trainer.env_steps:
        metrics["rollout/env_steps_total"] = float(trainer.env_steps)
    return metrics


def _finish(trainer: Trainer, metrics: dict[str, float]) -> None:
    run_dir = Path(trainer.config.run_dir)
    trainer.save_final_policy()
    if not trainer.dist.is_main:
        return
    plot = plot_learning_curve(run_dir, title=f"{trainer.config.env} | {trainer.config.credit}")
    (run_dir / "summary.json").write_text(json.dumps({"iterations": trainer.iteration, **metrics}, indent=2))
    console.phase("done", f"{trainer.iteration} iterations, {trainer.env_steps} environment steps")
    print(console.summary(str(run_dir), trainer.config.env, trainer.config.eval_split, read_metrics(run_dir),
                          list(trainer.summary_pools),
                          str(plot) if plot else None), flush=True)


def main(argv: list[str] | None = None) -> None:
    prog = "python -m agentgym.train"
    with one_line_errors(prog):  # e.g. a preset's unknown key
        try:
            config = parse_args(argv)
        except ConfigFileError as exc:  # a preset or the resumed run's config.yaml: its message names the file
            raise SystemExit(str(exc)) from exc
    try:  # transformers' own "Loading weights" bars say nothing about which phase is running
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    with one_line_errors(prog, "cannot start the run: "):  # a bad argument, file or server
        try:
            trainer = prepare(config)
        except run_folder.RunFolderError as exc:  # its message says what to pass instead
            raise SystemExit(str(exc)) from exc
        except RankTimeout as exc:  # a rank froze while the run was being built
            raise SystemExit(f"{prog}: {exc} {_resume_hint(config)}") from exc
    try:
        train(trainer)
    except checkpoint.CheckpointWriteError as exc:  # a full disk
        raise SystemExit(str(exc)) from exc
    except RankTimeout as exc:  # one paragraph, not gloo's traceback
        raise SystemExit(f"{prog}: {exc} {_resume_hint(config)}") from exc


def _resume_hint(config: TrainConfig) -> str:
    """What a run stopped by a frozen rank keeps: checkpoints are written whole or not at all."""
    latest = checkpoint.latest(config.run_dir, quiet=True)
    if latest is None:
        return (f"No checkpoint had been written in {config.run_dir} yet (checkpoint_every={config.checkpoint_every}): "
                "once the cause is fixed, start the run again.")
    return (f"Checkpoints are written whole or not at all, so {latest} is intact: once the cause is fixed, rerun the "
            "same command with --resume true to continue from it.")

