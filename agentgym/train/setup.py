"""Building one training run (``setup``): check the config, join the data-parallel group, load the
policy, build the features, pools and generation engine, and resume from the latest checkpoint.

Every name and ``*_params`` key is checked before anything is built, so a typo fails in a second,
not after the model has loaded. Under ``torchrun`` every rank builds its own policy replica,
engine and pool for its block of the groups; rank 0 alone builds the held-out pools and writes the
run folder, and anything built once and cached (the default tiny model) is built by rank 0 first.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from agentgym import credit, inference
from agentgym.core import plugins
from agentgym.core.registry import SPLITS, class_attribute, prompt_history_len
from agentgym.core.types import Messages
from agentgym.inference.sync_check import held_out_prompts
from agentgym.rollout.pool import EnvPool
from agentgym.train import checkpoint, distributed, features, run_folder
from agentgym.train.batches import make_batch_source
from agentgym.train.config import TrainConfig
from agentgym.train.data_parallel import STRATEGIES, DataParallel, shard
from agentgym.train.distributed import DistContext, group_block, solo_work_barrier, timeouts_explained
from agentgym.train.features import SetupContext
from agentgym.train.losses import AGG_MODES, KL_KINDS
from agentgym.train.trainer import Trainer, reseed_rank, restore_checkpoint, seed_everything
from agentgym.util import console
from agentgym.util.metrics import MetricsLogger, NullLogger
from agentgym.util.params import check_choice, check_params

EVAL_POOL_SIZE = 64


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
    check_choice(config.data_parallel, STRATEGIES, "data_parallel")
    config.check_episode_settings()
    config.check_pool_settings()
    config.check_inference_settings()
    if config.tis_cap is not None and config.tis_cap < 1:
        raise ValueError(f"tis_cap must be >= 1 (or None), got {config.tis_cap}")
    if config.min_abs_advantage < 0:
        raise ValueError(f"min_abs_advantage must be >= 0 (0 keeps every trajectory), got {config.min_abs_advantage}")
    if config.episode_retries < 0 or not 0 < config.max_infra_failure_frac <= 1:
        raise ValueError(f"need episode_retries >= 0 and 0 < max_infra_failure_frac <= 1, got "
                         f"{config.episode_retries} and {config.max_infra_failure_frac}")
    features.check_config(config)


def check_world(config: TrainConfig, ctx: DistContext) -> None:
    """Settings a data-parallel run of ``ctx.world_size`` ranks cannot honour, before anything is built."""
    if ctx.enabled and config.num_groups < ctx.world_size:
        raise ValueError(f"num_groups={config.num_groups} tasks cannot be shared out to {ctx.world_size} ranks: "
                         "give every rank at least one group (num_groups >= world size)")
    if ctx.enabled and config.pool == "ray" and config.ray_address is None:
        raise ValueError("pool=ray at world size > 1 needs a running cluster every rank joins: start one "
                         "(ray start --head) and pass --ray-address auto (each rank would start a cluster of its own)")
    if ctx.enabled and config.data_parallel == "fsdp" and config.max_staleness > 0:
        raise ValueError("data_parallel=fsdp samples on the engine's full copy of the weights, which the held-out "
                         "checks use too: run it with max_staleness=0 (asynchronous rollouts need ddp)")


def setup(config: TrainConfig) -> Trainer:
    check_config(config)
    ctx = distributed.init_from_env(config.dist_backend, config.collective_timeout_s, config.dist_timeout_s)
    try:
        with timeouts_explained(ctx):  # DDP's first broadcast, FSDP's optimizer scatter
            return _setup(config, ctx)
    except BaseException:
        distributed.shutdown(ctx)
        raise


def _setup(config: TrainConfig, ctx: DistContext) -> Trainer:
    check_world(config, ctx)
    console.QUIET["on"] = not ctx.is_main
    config = dataclasses.replace(config, history_len=prompt_history_len(config.env, config.history_len))
    run_dir = Path(config.run_dir)
    resume_from = run_folder.check(run_dir, config.resume, config.overwrite)
    if config.overwrite and ctx.is_main and run_folder.holds_a_run(run_dir):
        removed = run_folder.clear(run_dir)
        console.phase("setup", f"--overwrite: removed the previous run's {', '.join(removed)} from {run_dir}")
    if ctx.is_main and (stale := checkpoint.remove_stale_writes(run_dir)):
        console.phase("setup", f"removed what a killed writer left half-written in {run_dir}: {', '.join(stale)}")
    solo_work_barrier(ctx)  # no rank writes into the folder before rank 0 has cleared it
    run_dir.mkdir(parents=True, exist_ok=True)
    if resume_from is None:
        seed_everything(config.seed)
    if config.model is None:
        console.phase("setup", f"model: the offline tiny model for {config.env} (tokenizer and SFT warm start on "
                               "expert episodes, built once, then cached)")
    resolve = plugins.load(plugins.POLICIES, "resolve_model")  # hub ids offline, .gguf files: a model folder
    model_path = (_main_first(ctx, lambda: resolve(config.model)) if config.model else
                  _main_first(ctx, lambda: _default_model(config.env, config.env_kwargs)))
    start_spec = str(resume_from / "policy") if resume_from else model_path
    console.phase("setup", f"policy: {start_spec}" + (f" on {ctx.world_size} data-parallel ranks ({ctx.backend})"
                                                      if ctx.enabled else ""))
    load_policy = functools.partial(plugins.policy_from_spec, dtype=config.model_dtype)
    policy = load_policy(start_spec, lora=config.lora())  # a checkpoint's adapter folder keeps its adapters
    solo_work_barrier(ctx)  # each rank loads its replica at its own speed (a cold cache, a slow shared disk)
    parallel = DataParallel(policy, ctx, config.data_parallel)  # DDP: every replica starts from rank 0's weights
    optimizer = torch.optim.AdamW([p for p in policy.model.parameters() if p.requires_grad],
                                  lr=config.lr, weight_decay=config.weight_decay)
    context = SetupContext(policy=policy, model_path=model_path, run_dir=run_dir,
                           load_policy=load_policy, shard=shard if parallel.sharded else None)
    built = features.build(config, context)
    serial = [f.name for f in built if not f.data_parallel]
    if ctx.enabled and serial:
        raise ValueError(f"the trainer feature(s) {serial} are not data-parallel yet (they train models or loss terms "
                         f"of their own); run them at world size 1 (docs/scaling.md, 'What is data-parallel')")
    evaluates = ctx.is_main  # held-out checks run on rank 0 alone, while the others wait at the next batch
    trainer = Trainer(
        config=config, policy=policy, optimizer=optimizer, features=built, dist=ctx, parallel=parallel,
        batches=make_batch_source(config.max_staleness),
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
        trainer.close()
        raise
    choice = getattr(trainer.engine, "choice", "")
    console.phase("setup", f"generation engine: {trainer.engine.backend}" + (f" (auto: {choice})" if choice else "") + (
        f", asynchronous (max_staleness={config.max_staleness})" if config.max_staleness else "") + (
        ", on a full copy of the sharded weights (synced after each update)" if parallel.sharded else ""))
    if ctx.is_main:
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    # every engine holds the starting weights before any rank samples (servers start at their own speed, and rank 0
    # alone built the held-out pools and the logger)
    solo_work_barrier(ctx)
    return trainer


def _main_first(ctx: DistContext, build):
    """``build()`` on rank 0, then on the others (which then find what rank 0 cached)."""
    if not ctx.is_main:
        solo_work_barrier(ctx)
    result = build()
    if ctx.is_main:
        solo_work_barrier(ctx)
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

