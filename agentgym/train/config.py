"""The trainer's configuration: one dataclass is the single source of defaults.

YAML presets (``--config configs/x.yaml``) and command-line flags (``--lr 1e-4``) only override
fields of ``TrainConfig``; unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agentgym.inference.settings import InferenceSettings
from agentgym.rollout.pool.settings import PoolSettings
from agentgym.util.cli_options import add_options


@dataclass
class RunSettings:
    """run: what is trained, where it is written, how long it runs"""

    env: str = "agentgym/FrozenLake-v1"
    """Environment id (``python -m agentgym.envs`` lists them; ``module:namespace/Name-vN`` imports module)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for the environment's constructor, e.g. '{num_tasks: 200}'."""
    model: str | None = None
    """Model folder or hub id to train; None = the offline tiny model for `env`, SFT-warm-started on its expert."""
    model_dtype: str = "float32"
    """Dtype of the trained weights (float32 | bfloat16 | float16); the reference model and optimizer follow it."""
    run_dir: str = "runs/default"
    """Folder for metrics, checkpoints, evaluation reports and the final policy."""
    seed: int = 0
    """Seeds Python, numpy and torch, the task sampler and the update's shuffling."""
    iterations: int = 120
    """Rollout-and-update iterations (the main job, FrozenLake-v1, needs about 120 to pass its baselines on
    valid_unseen; presets that want fewer set them)."""
    max_env_steps: int | None = None
    """Stop early once this many environment steps were collected (compare methods at equal budgets)."""
    resume: bool = False
    """Continue the run in `run_dir` from its latest checkpoint with its saved config.yaml (options given now
    override it, each with a warning)."""
    overwrite: bool = False
    """Replace the run already in `run_dir` (metrics, checkpoints, reports, final policy); without it a fresh run
    into a used folder is refused."""


@dataclass
class RolloutSettings:
    """rollout: how each iteration's trajectories are collected"""

    num_groups: int = 16
    """Tasks per iteration."""
    group_size: int = 8
    """Rollouts per task (same task, same reset seed): the group credit statistics are taken over."""
    max_steps: int | None = None
    """Step limit of an episode; None = the environment's own."""
    history_len: int | None = None
    """Past (action, observation) pairs in each prompt; None = the environment's prompt_history_len."""
    show_admissible: bool = True
    """List the admissible actions in each prompt (where the environment gives them)."""
    temperature: float = 1.0
    """Sampling temperature of rollouts."""
    top_p: float = 1.0
    """Nucleus sampling threshold of rollouts (1 = off)."""
    max_new_tokens: int = 24
    """Longest response per step, in tokens."""
    episode_retries: int = 1
    """Replays of a task (fresh environment, same reset) after an infrastructure failure, before it is lost."""
    max_infra_failure_frac: float = 0.5
    """Stop the run (after a checkpoint) when more of one iteration's episodes failed for infrastructure reasons."""
    max_prompt_tokens: int | None = None
    """Longest prompt; longer ones are shortened by the context guard. None = model context - max_new_tokens."""


@dataclass
class CreditSettings:
    """credit assignment: estimators, modifiers and shapers, looked up by name (agentgym.credit)"""

    credit: str = "gigpo"
    """Advantage estimator: gigpo | grpo | rloo | hgpo | reinforce_pp | gae (needs critic=true) | igpo | archer."""
    credit_params: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the estimator, e.g. '{gamma: 0.95, omega: 1.0}' (checked against its signature)."""
    modifiers: list[str] = field(default_factory=list)
    """Advantage modifiers applied in order after the estimator, comma-separated (empg)."""
    modifier_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Keyword arguments per modifier, e.g. '{empg: {zeta: 0.1}}'."""
    shapers: list[str] = field(default_factory=lambda: ["invalid_action"])
    """Reward shapers applied in order before credit, comma-separated (invalid_action, progress)."""
    shaper_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Keyword arguments per shaper, e.g. '{invalid_action: {penalty: 0.2}}'."""
    filter_zero_variance_groups: bool = False
    """Dynamic sampling: drop groups whose trajectory returns are all equal before the update."""
    min_abs_advantage: float = 0.0
    """Drop trajectories whose every step has |advantage| below this before the update (LOOP: 0.01, which drops
    the rollouts of groups that all scored alike); 0 = keep all."""


@dataclass
class UpdateSettings:
    """update: the clipped policy-gradient update (agentgym.train.update reads these fields)"""

    lr: float = 2e-4
    """AdamW learning rate of the policy."""
    weight_decay: float = 0.0
    """AdamW weight decay of the policy."""
    ppo_epochs: int = 1
    """Passes over each iteration's samples."""
    mini_batch_size: int = 512
    """Step samples per optimizer step."""
    micro_batch_size: int = 128
    """Step samples per forward/backward pass (gradient accumulation up to mini_batch_size)."""
    clip_low: float = 0.2
    """Lower clip range of the probability ratio (1 - clip_low)."""
    clip_high: float = 0.2
    """Upper clip range of the probability ratio (1 + clip_high; DAPO's clip-higher when larger)."""
    clip_reciprocal: bool = False
    """Clamp the ratio to [1/(1+clip_high), 1+clip_high] (LOOP's bounds, symmetric in log space); clip_low unused."""
    dual_clip: float | None = 3.0
    """Dual-clip bound on the loss of negative-advantage tokens; None = off."""
    loss_agg: str = "token-mean"
    """Loss aggregation over a mini-batch: token-mean | seq-mean-token-mean | seq-mean-token-sum."""
    kl_coef: float = 0.01
    """Weight of the KL penalty to the starting model; 0 = no reference model at all."""
    kl_kind: str = "low_var_kl"
    """KL estimator of the penalty: k1 | k2 | abs | low_var_kl (k3, clamped)."""
    entropy_coef: float = 0.0
    """Weight of the token-entropy bonus."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip of each optimizer step."""
    recompute_old_logprobs: bool = False
    """Rescore rollouts with the current weights before the update instead of using the sampling log-probs."""
    tis_cap: float | None = None
    """Truncated importance sampling: weigh each token's loss by min(p_trainer / p_engine, tis_cap); None = off."""


@dataclass
class FeatureSettings:
    """trainer features: optional parts that are built only when these fields ask for them"""

    critic: bool = False
    """Train a value model and put its values in the batch (needed by credit=gae, i.e. PPO)."""
    critic_lr: float = 1e-4
    """AdamW learning rate of the value model."""
    value_clip: float = 0.2
    """Clip range of the value model's update around its old values."""
    epo_coef: float = 0.0
    """EPO entropy regularisation weight (paper: 0.001); 0 = off."""
    epo_params: dict[str, Any] = field(default_factory=dict)
    """EPO settings: kappa_l, kappa_r, gamma, alpha (agentgym.train.features.epo.regularizer.EPORegularizer)."""
    progress_estimator: str = "policy"
    """Progress attribution (shapers=progress) encoder: policy (frozen copy, head only) | separate (own LM)."""
    progress_model: str | None = None
    """Model folder of a separate progress encoder; None = the policy's starting model."""
    progress_explore_batches: int = 2
    """Rollout batches of the starting policy the progress estimator is first fitted on."""
    progress_refresh_every: int = 0
    """Refit the progress estimator on recent rollouts every N iterations; 0 = fit once."""
    progress_buffer: int = 1024
    """Trajectories kept for progress refits."""
    progress_params: dict[str, Any] = field(default_factory=dict)
    """Progress estimator settings (rewards.progress.ProgressSettings fields), e.g. '{epochs: 20}'."""
    igpo_params: dict[str, Any] = field(default_factory=dict)
    """IGPO belief settings (credit=igpo; agentgym.train.features.igpo.feature.BeliefSettings fields),
    e.g. '{answer_template: "<answer>{answer}</answer>"}'."""
    archer_params: dict[str, Any] = field(default_factory=dict)
    """ArCHer critic settings (credit=archer; agentgym.train.features.archer.feature.ArcherSettings fields),
    e.g. '{warmup_iterations: 5, tau: 0.1}'."""


@dataclass
class OutputSettings:
    """evaluation, checkpoints, logging"""

    eval_split: str = "valid_seen"
    """Held-out split of the periodic greedy evaluation."""
    eval_every: int = 10
    """Evaluate every N iterations (and after the last); 0 = never."""
    eval_episodes: int = 100
    """Tasks of the periodic evaluation (the first N of eval_split)."""
    eval_at_start: bool = True
    """Also evaluate the starting policy, before the first iteration."""
    summary_splits: list[str] = field(default_factory=lambda: ["valid_unseen"])
    """Other held-out splits evaluated at the start and after the last iteration (eval_<split>/ keys, summary)."""
    summary_baselines: list[str] = field(default_factory=lambda: ["random", "heuristic", "expert"])
    """Scripted policies (random, heuristic, expert, expert:EPS) checked once at the start on eval_split and the
    summary_splits, beside the summary (a heuristic is the environment's hand-written rule, policies.heuristics)."""
    train_eval_episodes: int = 0
    """>0: also evaluate greedily on this many train tasks (train curves beside held-out ones)."""
    checkpoint_every: int = 10
    """Write a checkpoint every N iterations (and after the last); 0 = never."""
    keep_checkpoints: int = 2
    """Checkpoints kept in run_dir (older ones are deleted)."""
    tensorboard: bool = True
    """Also write TensorBoard event files."""
    wandb_project: str | None = None
    """Also log to this Weights & Biases project."""
    progress_bar: bool = True
    """Show a progress bar over iterations."""
    console_table_every: int = 10
    """Print every metric every N iterations (0 = never); a compact line shows the watched ones every iteration."""


@dataclass
class DistributedSettings:
    """data parallelism: set by the launcher (torchrun --nproc-per-node N -m agentgym.train); docs/scaling.md"""

    data_parallel: str = "ddp"
    """ddp: every rank holds the whole model (DDP) | fsdp: parameters, gradients and optimizer state sharded (FSDP2)."""
    dist_backend: str | None = None
    """torch.distributed backend when launched as several ranks: nccl | gloo; None = nccl on GPUs, else gloo."""
    dist_timeout_s: float = 1800.0
    """How long a rank waits at a collective (e.g. while rank 0 evaluates) before the run fails."""


@dataclass
class TrainConfig(OutputSettings, DistributedSettings, FeatureSettings, UpdateSettings, CreditSettings,
                  InferenceSettings, PoolSettings, RolloutSettings, RunSettings):
    """Every setting of one training run; the single source of their defaults.

    The bases only group the fields (for ``--help`` and for the parts that read one group, such as
    ``agentgym.train.update`` taking ``UpdateSettings``); a ``TrainConfig`` is a flat set of fields, listed
    from ``RunSettings`` to ``OutputSettings``.
    """

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_yaml(path: str | Path) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a config preset must be a mapping of TrainConfig fields")
    return data


def apply_overrides(config: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        hints = {k: difflib.get_close_matches(k, known, n=1) for k in unknown}
        said = ", ".join(f"{k!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for k, h in hints.items())
        raise ValueError(f"Unknown config keys {said}; `python -m agentgym.train --help` lists the fields")
    return dataclasses.replace(config, **overrides)


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """``--config PRESET.yaml`` then ``--field value`` flags, each overriding the dataclass default."""
    parser = argparse.ArgumentParser(
        prog="python -m agentgym.train", description="Train an LLM agent with RL on one shared rollout-and-update "
        "loop. Every option overrides a field of agentgym.train.config.TrainConfig; presets (--config) are applied first.")
    parser.add_argument("--config", action="append", default=[], metavar="PRESET.yaml",
                        help="YAML preset(s) of TrainConfig fields, applied in order (e.g. configs/frozenlake_grpo.yaml)")
    add_options(parser, TrainConfig, grouped=True)
    args = vars(parser.parse_args(argv))
    explicit: dict[str, Any] = {}  # presets in order, then flags: everything the user asked for
    for preset in args.pop("config"):
        explicit.update(load_yaml(preset))
    explicit.update(args)
    config = apply_overrides(TrainConfig(), explicit)
    return resumed_config(config, explicit) if config.resume else config


def resumed_config(config: TrainConfig, explicit: dict[str, Any]) -> TrainConfig:
    """The run's saved config.yaml, then only the settings given now that differ from it, each with a warning.

    A resumed run continues the configuration it was started with: without this, a run begun with
    ``--iterations 6 --eval-every 3`` resumed with the defaults and rewrote config.yaml.
    """
    saved_path = Path(config.run_dir) / "config.yaml"
    if not saved_path.is_file():
        return config  # nothing saved yet (killed before setup finished): the settings given now
    saved = load_yaml(saved_path)
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    dropped = sorted(set(saved) - known)
    if dropped:
        print(f"resume: {saved_path} has settings this version no longer knows, ignored: {dropped}", file=sys.stderr)
    base = apply_overrides(TrainConfig(), {k: v for k, v in saved.items() if k in known})
    wanted = apply_overrides(base, explicit)  # the same parsing and types for both sides
    changed = {k: getattr(wanted, k) for k in explicit
               if k not in ("resume", "overwrite") and getattr(wanted, k) != getattr(base, k)}
    for key, value in changed.items():
        print(f"resume: --{key.replace('_', '-')} {value!r} overrides the run's saved {getattr(base, key)!r}",
              file=sys.stderr)
    return dataclasses.replace(base, **changed, resume=True, overwrite=config.overwrite)
