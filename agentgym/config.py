"""The trainer's configuration: one dataclass is the single source of defaults.

YAML presets (``--config configs/x.yaml``) and command-line flags (``--lr 1e-4``) only override
fields of ``TrainConfig``; unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class TrainConfig:
    # --- run ---
    env: str = "agentgym/FrozenLake-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    model: str | None = None  # model folder / hub id; None = the offline tiny model, SFT-warm-started on `env`
    run_dir: str = "runs/default"
    seed: int = 0
    iterations: int = 30
    max_env_steps: int | None = None  # stop early once this many environment steps were collected (equal budgets)
    resume: bool = False
    # --- rollout ---
    num_groups: int = 16  # tasks per iteration
    group_size: int = 8  # rollouts per task (same task, same reset seed)
    max_steps: int | None = None  # None = the environment's own step limit
    history_len: int | None = None  # past (action, observation) pairs per prompt; None = the env's prompt_history_len
    show_admissible: bool = True
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 24
    env_workers: int = 4  # threads stepping environments
    # --- credit assignment (looked up by name in agentgym.credit; never branched on) ---
    credit: str = "gigpo"
    credit_params: dict[str, Any] = field(default_factory=dict)
    modifiers: list[str] = field(default_factory=list)
    modifier_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    shapers: list[str] = field(default_factory=lambda: ["invalid_action"])
    shaper_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    # progress attribution (SPA-RL): built only when a shaper needs the 'progress' column (shapers=[progress])
    progress_estimator: str = "policy"  # encoder: policy (frozen copy, head only) | separate (own LM, fine-tuned)
    progress_model: str | None = None  # separate encoder's model folder; None = the policy's starting model
    progress_explore_batches: int = 2  # rollout batches of the starting policy the estimator is fitted on
    progress_refresh_every: int = 0  # refit on recent rollouts every N iterations; 0 = fit once
    progress_buffer: int = 1024  # trajectories kept for refits
    progress_params: dict[str, Any] = field(default_factory=dict)  # rewards.progress.ProgressSettings fields
    filter_zero_variance_groups: bool = False  # dynamic sampling: drop groups whose returns are all equal
    # --- update ---
    lr: float = 2e-4
    weight_decay: float = 0.0
    ppo_epochs: int = 1
    mini_batch_size: int = 512  # steps per optimizer step
    micro_batch_size: int = 128  # steps per forward/backward (gradient accumulation)
    clip_low: float = 0.2
    clip_high: float = 0.2
    dual_clip: float | None = 3.0
    loss_agg: str = "token-mean"  # token-mean | seq-mean-token-mean | seq-mean-token-sum
    kl_coef: float = 0.01  # 0 disables the reference model entirely
    kl_kind: str = "low_var_kl"
    entropy_coef: float = 0.0
    epo_coef: float = 0.0  # EPO entropy regularisation (paper: 0.001); 0 = off
    epo_params: dict[str, Any] = field(default_factory=dict)  # kappa_l, kappa_r, gamma, alpha
    max_grad_norm: float = 1.0
    recompute_old_logprobs: bool = False  # rescore rollouts before the update instead of using sampling log-probs
    critic: bool = False  # train a value model and put its values in the batch (needed by credit=gae)
    critic_lr: float = 1e-4
    value_clip: float = 0.2
    # --- evaluation, checkpoints, logging ---
    eval_split: str = "valid_seen"
    eval_every: int = 10
    eval_episodes: int = 100
    eval_at_start: bool = True
    train_eval_episodes: int = 0  # >0: also evaluate greedily on this many train tasks (learning curves)
    checkpoint_every: int = 10
    keep_checkpoints: int = 2
    tensorboard: bool = True
    wandb_project: str | None = None
    progress: bool = True

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
        raise ValueError(f"Unknown config keys {unknown}; see agentgym/config.py for the fields")
    return dataclasses.replace(config, **overrides)


def _parser_for(hint: Any):
    """A string -> value converter for one field's type hint."""
    origin = typing.get_origin(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and len(args) == 1:
        inner = _parser_for(args[0])
        return lambda s: None if s.lower() in ("none", "null") else inner(s)
    if hint is bool:
        return _parse_bool
    if hint in (int, float, str):
        return hint
    if origin is list:
        return lambda s: [x for x in (p.strip() for p in s.split(",")) if x]
    if origin is dict:
        return _parse_mapping
    return str


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean, got {text!r}")


def _parse_mapping(text: str) -> dict[str, Any]:
    value = yaml.safe_load(text) if text.strip() else {}
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a mapping like '{{gamma: 0.9}}', got {text!r}")
    return json.loads(json.dumps(value))


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """``--config PRESET.yaml`` then ``--field value`` flags, each overriding the dataclass default."""
    hints = typing.get_type_hints(TrainConfig)
    parser = argparse.ArgumentParser(prog="python -m agentgym.train", description="Train an LLM agent with RL.")
    parser.add_argument("--config", action="append", default=[], help="YAML preset(s), applied in order")
    for f in dataclasses.fields(TrainConfig):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        flag = "--" + f.name.replace("_", "-")
        parser.add_argument(flag, dest=f.name, type=_parser_for(hints[f.name]), default=argparse.SUPPRESS,
                            help=f"default: {default!r}")
    args = vars(parser.parse_args(argv))
    config = TrainConfig()
    for preset in args.pop("config"):
        config = apply_overrides(config, load_yaml(preset))
    return apply_overrides(config, args)
