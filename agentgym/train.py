"""``python -m agentgym.train``: the one rollout-and-update loop every credit-assignment method shares.

Read top to bottom: setup, then per iteration rollout -> shape -> credit -> update -> weight sync ->
evaluate -> log -> checkpoint. Rollouts come from a rollout engine (``agentgym.inference``: the
trained model itself, vLLM, or a server), synchronously or, with ``max_staleness > 0``, from a
background producer that samples the next batch while this one trains. Algorithms are looked up
by name in ``agentgym.credit``, and optional parts (reference model, critic, EPO, progress
attribution) are trainer features (``agentgym.features``) called through one set of hooks; this
file never branches on an algorithm or a feature. Defaults (``TrainConfig``) run on a laptop CPU:
the offline tiny model, SFT-warm-started on FrozenLake, trained with GiGPO. Beside it: the run's
state and checkpoint (``agentgym.trainer``), where each batch comes from and how weights go back
(``agentgym.trainer_rollout``), the held-out checks (``agentgym.eval.training``). Under ``torchrun``
every rank runs this same loop on its block of the groups and its rows of each mini-batch
(``agentgym.distributed``, ``agentgym.data_parallel``); rank 0 alone evaluates, logs and checkpoints.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from tqdm.auto import tqdm

from agentgym import checkpoint, console, credit, distributed, features, inference, plugins
from agentgym.config import TrainConfig, parse_args
from agentgym.credit.entropy_diagnostics import entropy_diagnostics
from agentgym.data_parallel import DataParallel
from agentgym.distributed import DistContext, barrier, group_block, sharded_map
from agentgym.eval.training import baseline_metrics, evaluate_now
from agentgym.evaluation import summarise
from agentgym.features import SetupContext
from agentgym.inference.producer import RolloutProducer
from agentgym.inference.sync_check import held_out_prompts
from agentgym.losses import AGG_MODES, KL_KINDS
from agentgym.metrics import MetricsLogger, NullLogger, read_metrics
from agentgym.params import check_choice, check_params
from agentgym.plots import plot_learning_curve
from agentgym.pool import EnvPool
from agentgym.registry import SPLITS, class_attribute, prompt_history_len
from agentgym.rollout import RolloutStats
from agentgym.trainer import Trainer, reseed_rank, restore_checkpoint, save_checkpoint
from agentgym.trainer_rollout import (
    InfrastructureFailure,
    collect_batch,
    next_batch,
    rescore,
    rollout,
    sync_engine,
)
from agentgym.types import Messages, StepBatch, Trajectory
from agentgym.update import UpdateSample, ppo_update, score_no_grad

__all__ = ["InfrastructureFailure", "Trainer", "check_config", "evaluate_now", "main", "run", "setup",
           "train_iteration", "train_on_batch"]

EVAL_POOL_SIZE = 64


# ---------------------------------------------------------------------------------------------- setup
def check_config(config: TrainConfig) -> None:
    """Every name and ``*_params`` key of the config against its target, before anything is built."""
    check_params(credit.get(config.credit), config.credit_params, f"credit_params of {config.credit!r}")
    for kind, names, params, get, leading in (
            ("modifier", config.modifiers, config.modifier_params, credit.get_modifier, 2),
            ("shaper", config.shapers, config.shaper_params, credit.get_shaper, 1)):
        for name in params:
            if name not in names:
                raise ValueError(f"{kind}_params has settings for {name!r}, which is not in {kind}s {names}")
        for name in names:
            check_params(get(name), params.get(name, {}), f"{kind}_params of {name!r}", leading=leading)
    check_choice(config.eval_split, SPLITS, "eval_split")
    for split in config.summary_splits:
        check_choice(split, SPLITS, "summary_splits")
    check_choice(config.loss_agg, AGG_MODES, "loss_agg")
    check_choice(config.kl_kind, KL_KINDS, "kl_kind")
    config.check_pool_settings()
    config.check_inference_settings()
    if config.tis_cap is not None and config.tis_cap < 1:
        raise ValueError(f"tis_cap must be >= 1 (or None), got {config.tis_cap}")
    if config.episode_retries < 0 or not 0 < config.max_infra_failure_frac <= 1:
        raise ValueError(f"need episode_retries >= 0 and 0 < max_infra_failure_frac <= 1, got "
                         f"{config.episode_retries} and {config.max_infra_failure_frac}")
    features.check_config(config)


def check_world(config: TrainConfig, ctx: DistContext) -> None:
    """Settings a data-parallel run of ``ctx.world_size`` ranks cannot honour, before anything is built."""
    if ctx.enabled and config.num_groups < ctx.world_size:
        raise ValueError(f"num_groups={config.num_groups} tasks cannot be shared out to {ctx.world_size} ranks: "
                         "give every rank at least one group (num_groups >= world size)")


def setup(config: TrainConfig) -> Trainer:
    check_config(config)
    ctx = distributed.init_from_env(config.dist_backend, config.dist_timeout_s)
    try:
        return _setup(config, ctx)
    except BaseException:
        distributed.shutdown(ctx)
        raise


def _setup(config: TrainConfig, ctx: DistContext) -> Trainer:
    check_world(config, ctx)
    console.QUIET["on"] = not ctx.is_main
    config = dataclasses.replace(config, history_len=prompt_history_len(config.env, config.history_len))
    run_dir = Path(config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    resume_from = checkpoint.latest(run_dir) if config.resume else None
    if resume_from is None:
        _seed_everything(config.seed)
    if config.model is None:
        console.phase("setup", f"model: the offline tiny model for {config.env} (tokenizer and SFT warm start on "
                               "expert episodes, built once, then cached)")
    model_path = config.model or _main_first(ctx, lambda: _default_model(config.env, config.env_kwargs))
    start_spec = str(resume_from / "policy") if resume_from else model_path
    console.phase("setup", f"policy: {start_spec}" + (f" on {ctx.world_size} data-parallel ranks ({ctx.backend})"
                                                      if ctx.enabled else ""))
    policy = plugins.policy_from_spec(start_spec)
    parallel = DataParallel(policy, ctx)  # DDP: every replica starts from rank 0's weights
    optimizer = torch.optim.AdamW([p for p in policy.model.parameters() if p.requires_grad],
                                  lr=config.lr, weight_decay=config.weight_decay)
    context = SetupContext(policy=policy, model_path=model_path, run_dir=run_dir,
                           load_policy=plugins.policy_from_spec)
    built = features.build(config, context)
    serial = [f.name for f in built if not f.data_parallel]
    if ctx.enabled and serial:
        raise ValueError(f"the trainer feature(s) {serial} are not data-parallel yet (they train models or loss terms "
                         f"of their own); run them at world size 1 (docs/scaling.md, 'What is data-parallel')")
    evaluates = ctx.is_main  # held-out checks run on rank 0 alone, while the others wait at the next batch
    trainer = Trainer(
        config=config, policy=policy, optimizer=optimizer, features=built, dist=ctx, parallel=parallel,
        train_pool=_pool(config, "train", len(group_block(ctx, config.num_groups)) * config.group_size),
        eval_pool=_pool(config, config.eval_split, min(config.eval_episodes, EVAL_POOL_SIZE))
        if config.eval_every > 0 and evaluates else None,
        train_eval_pool=_pool(config, "train", min(config.train_eval_episodes, EVAL_POOL_SIZE))
        if config.train_eval_episodes > 0 and evaluates else None,
        task_rng=np.random.default_rng(config.seed), shuffle_rng=torch.Generator().manual_seed(config.seed),
        logger=MetricsLogger(run_dir, config.tensorboard, config.wandb_project, config.to_dict(), echo=False)
        if ctx.is_main else NullLogger(),
    )
    console.phase("setup", f"environments: {config.env}, {config.num_groups} tasks x {config.group_size} rollouts "
                           f"per iteration; held-out checks on {config.eval_episodes} {config.eval_split} tasks "
                           f"every {config.eval_every} iterations" if config.eval_every else
                           f"environments: {config.env}, {config.num_groups} x {config.group_size} rollouts")
    if config.eval_every > 0 and evaluates:
        trainer.summary_pools = {split: _pool(config, split, min(config.eval_episodes, EVAL_POOL_SIZE))
                                 for split in dict.fromkeys(config.summary_splits) if split != config.eval_split}
    if resume_from is not None:
        restore_checkpoint(trainer, resume_from)
    else:
        reseed_rank(config.seed, ctx.rank)
    if config.verify_sync_prompts:
        trainer.sync_prompts = _held_out_prompts(config)
    try:  # the engine starts from the trained weights as they are now: version = updates applied
        trainer.engine = inference.make_engine(config, policy, start_spec, trainer.iteration,
                                               run_dir if ctx.is_main else run_dir / "ranks" / f"rank_{ctx.rank}",
                                               rank=ctx.rank)
    except BaseException:
        _close(trainer)
        raise
    console.phase("setup", f"rollout engine: {trainer.engine.backend}" + (
        f", asynchronous (max_staleness={config.max_staleness})" if config.max_staleness else ""))
    if ctx.is_main:
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    barrier(ctx)  # every engine holds the starting weights before any rank samples
    return trainer


def _main_first(ctx: DistContext, build):
    """``build()`` on rank 0, then on the others (which then find what rank 0 cached)."""
    if not ctx.is_main:
        barrier(ctx)
    result = build()
    if ctx.is_main:
        barrier(ctx)
    return result


def _held_out_prompts(config: TrainConfig) -> list[Messages]:
    pool = _pool(config, config.eval_split, config.verify_sync_prompts)
    try:
        return held_out_prompts(pool, config.verify_sync_prompts, config.show_admissible)
    finally:
        pool.close()


def _default_model(env_id: str, env_kwargs: dict[str, Any]) -> str:
    """The offline tiny model for ``env_id``, SFT-warm-started on its expert (which it must have)."""
    if not class_attribute(env_id, "has_expert", True):
        raise ValueError(f"{env_id} has no expert (has_expert = False), so the default tiny model cannot be "
                         "warm-started on expert episodes. Pass --model: any causal LM folder or hub id (your own "
                         "model, or a tiny model built for another environment); RL then starts from it. "
                         "See docs/new_environment.md, 'Train and evaluate it'.")
    return str(plugins.load(plugins.POLICIES, "default_model")(env_id=env_id, env_kwargs=env_kwargs, verbose=True))


def _pool(config: TrainConfig, split: str, size: int) -> EnvPool:
    return config.make_pool(config.env, split, size, config.env_kwargs, config.max_steps)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ------------------------------------------------------------------------------------- one iteration
def train_iteration(trainer: Trainer) -> dict[str, float]:
    start = time.perf_counter()
    trajectories, stats, engine_metrics = next_batch(trainer)
    # the trained model's own log-probs and entropies when another engine sampled (agentgym.inference.rescore)
    tick = time.perf_counter()
    if trainer.engine.rescores:
        engine_metrics.update(rescore(trainer, trajectories))
    engine_metrics["time/rescore_s"] = time.perf_counter() - tick
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
    keep = _nonconstant_groups(batch) if config.filter_zero_variance_groups else np.ones(len(batch), bool)
    steps = [s for s, kept in zip((s for t in trajectories for s in t.steps), keep) if kept]
    batch = batch.subset(keep)
    raw_advantages, advantages = _advantages(batch, config)
    credit_s = time.perf_counter() - tick
    metrics = {**rollout_metrics, **_credit_metrics(batch, raw_advantages, advantages, config)}
    # update
    tick = time.perf_counter()
    samples = _update_samples(trainer, steps, advantages)
    loss_terms = [term for feature in trainer.features for term in feature.loss_terms()]
    metrics.update(ppo_update(trainer.policy, trainer.optimizer, samples, config, trainer.shuffle_rng,
                              loss_terms, trainer.iteration, parallel=trainer.parallel))
    for feature in trainer.features:
        metrics.update(feature.after_update(steps, batch))
    update_s = time.perf_counter() - tick
    metrics.update(sync_engine(trainer, trainer.iteration + 1))
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
    raw = credit.get(config.credit)(batch, **config.credit_params)
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


def _nonconstant_groups(batch: StepBatch) -> np.ndarray:
    """Row mask of groups whose trajectory returns are not all equal (dynamic sampling)."""
    _, groups, returns = batch.trajectory_returns()
    varied = {g for g in np.unique(groups) if np.ptp(returns[groups == g]) > 1e-8}
    return np.array([g in varied for g in batch.group_id], dtype=bool)


def _update_samples(trainer: Trainer, steps, advantages: np.ndarray) -> list[UpdateSample]:
    config = trainer.config
    samples = [UpdateSample(s.prompt_ids, s.response_ids, s.logprobs, float(a), traj_id=s.traj_id,
                            rollout_logprobs=s.rollout_logprobs)
               for s, a in zip(steps, advantages) if s.response_ids]

    def prepare(block: list[UpdateSample]) -> None:  # each rank its block; every rank gets all back
        if config.recompute_old_logprobs and not trainer.engine.rescores:  # rescored steps hold these already
            for sample, logprobs in zip(block, score_no_grad(trainer.policy, block, config.micro_batch_size)):
                sample.old_logprobs = logprobs
        for feature in trainer.features:  # e.g. reference log-probs
            feature.prepare(block)

    return sharded_map(trainer.dist, prepare, samples)


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
    trainer = setup(config)
    metrics: dict[str, float] = {}
    try:
        if trainer.iteration == 0:
            metrics.update(_warm_up(trainer))
        if config.max_staleness > 0:
            trainer.producer = RolloutProducer(trainer.engine, lambda: collect_batch(trainer), trainer.task_rng,
                                               config.max_staleness, trainer.iteration)
        if trainer.iteration == 0 and config.eval_at_start and trainer.eval_pool is not None:
            metrics.update(evaluate_now(trainer, summary=True))
            metrics.update(baseline_metrics(trainer))
        if metrics:
            _log(trainer, metrics)
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
            _log(trainer, metrics)
            bar.set_postfix(success=f"{metrics.get('rollout/success_rate', float('nan')):.2f}")
            if config.checkpoint_every > 0 and (trainer.iteration % config.checkpoint_every == 0 or last):
                save_checkpoint(trainer)
            if budget_spent:
                break
        _finish(trainer, metrics)
    finally:
        _close(trainer)
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
    if not trainer.dist.is_main:
        return
    run_dir = Path(trainer.config.run_dir)
    trainer.policy.save(str(run_dir / "final_policy"))
    plot = plot_learning_curve(run_dir, title=f"{trainer.config.env} | {trainer.config.credit}")
    (run_dir / "summary.json").write_text(json.dumps({"iterations": trainer.iteration, **metrics}, indent=2))
    console.phase("done", f"{trainer.iteration} iterations, {trainer.env_steps} environment steps")
    print(console.summary(str(run_dir), trainer.config.env, trainer.config.eval_split, read_metrics(run_dir),
                          list(trainer.summary_pools),
                          str(plot) if plot else None), flush=True)


def _close(trainer: Trainer) -> None:
    if trainer.producer is not None:
        trainer.producer.close()
    if trainer.engine is not None:
        trainer.engine.close()
    trainer.logger.close()
    for pool in (trainer.train_pool, trainer.eval_pool, trainer.train_eval_pool, *trainer.summary_pools.values()):
        if pool is not None:
            pool.close()
    distributed.shutdown(trainer.dist)


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    try:  # transformers' own "Loading weights" bars say nothing about which phase is running
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    run(config)


if __name__ == "__main__":
    main()
