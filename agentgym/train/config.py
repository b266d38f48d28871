"""The trainer's configuration: one dataclass is the single source of defaults.

YAML presets (``--config configs/x.yaml``) and command-line flags (``--lr 1e-4``) only override
fields of ``TrainConfig``; unknown keys are errors, so a typo never silently falls back to a default.
What an episode is (environment, prompt, sampling) is ``EpisodeSettings``, shared with evaluation
and SFT; each trainer feature owns its settings (``TrainerFeature.settings``), set as
``{feature}_{field}`` keys (``--critic-lr``, ``epo_coef: 0.001``) and held in ``TrainConfig.features``.
Spellings renamed in 0.2 (``DEPRECATED``) are still read, with a warning, until the next release.
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

from agentgym.core.model_settings import ModelTrainingSettings
from agentgym.inference.settings import InferenceSettings
from agentgym.rollout.episode import EpisodeSettings
from agentgym.rollout.pool.settings import PoolSettings
from agentgym.util.cli_options import add_options, add_renamed_options, parse_mapping, rename_given
from agentgym.util.params import check_at_least

TRAIN_TEMPERATURE = 1.0  # what temperature=None means for training rollouts
TRAIN_LR = 2e-4  # what lr=None means for the policy update
# old key -> new key (or, for the retired *_params mappings, the feature whose {feature}_{field} keys they hold)
DEPRECATED: dict[str, str] = {
    "critic": "critic_enabled", "value_clip": "critic_value_clip",
    "rollout_backend": "engine", "rollout_server_url": "engine_url", "rollout_server_model": "engine_model",
    "rollout_server_threads": "engine_threads", "rollout_server_timeout_s": "engine_timeout_s",
    "env_backend": "pool", "env_workers": "pool_workers",
}
DEPRECATED_MAPPINGS: dict[str, str] = {"epo_params": "epo", "progress_params": "progress", "igpo_params": "igpo",
                                       "archer_params": "archer"}


@dataclass(kw_only=True)
class RunSettings:
    """run: what is trained, where it is written, how long it runs"""

    run_dir: str = "runs/default"
    """Folder for metrics, checkpoints, evaluation reports and the final policy."""
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


@dataclass(kw_only=True)
class RolloutSettings:
    """rollout: how many trajectories each iteration collects, and what a failure costs"""

    num_groups: int = 16
    """Tasks per iteration."""
    group_size: int = 8
    """Rollouts per task (same task, same reset seed): the group credit statistics are taken over."""
    episode_retries: int = 1
    """Replays of a task (fresh environment, same reset) after an infrastructure failure, before it is lost."""
    max_infra_failure_frac: float = 0.5
    """Stop the run (after a checkpoint) when more of one iteration's episodes failed for infrastructure reasons."""


@dataclass(kw_only=True)
class CreditSettings:
    """credit assignment: estimators, modifiers and shapers, looked up by name (agentgym.credit)"""

    credit: str = "gigpo"
    """Advantage estimator: gigpo | grpo | rloo | hgpo | reinforce_pp | gae (needs critic_enabled=true) | igpo | archer."""
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


@dataclass(kw_only=True)
class UpdateSettings:
    """update: the clipped policy-gradient update (agentgym.train.update reads these fields)"""

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
    recompute_old_logprobs: bool = False
    """Rescore every batch with the trained weights before credit (log-probs and entropies, as when another engine
    sampled it) instead of using the sampling numbers."""
    rescore_on_policy: bool = False
    """Rescore another engine's samples even when the update is one optimizer step over the whole batch (ppo_epochs
    1, the batch's steps <= mini_batch_size); by default that update's first forward, detached, gives the old
    log-probs (same weights: ratio 1) and the pass is skipped. Steps then keep the engine's entropies (vLLM: top-k
    lower bound); credit that reads entropies (EMPG) always gets the trainer's."""
    tis_cap: float | None = None
    """Truncated importance sampling: weigh each token's loss by min(p_trainer / p_engine, tis_cap); None = off."""


@dataclass(kw_only=True)
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


@dataclass(kw_only=True)
class DistributedSettings:
    """data parallelism: set by the launcher (torchrun --nproc-per-node N -m agentgym.train); docs/scaling.md"""

    data_parallel: str = "ddp"
    """ddp: every rank holds the whole model (DDP) | fsdp: parameters, gradients and optimizer state sharded (FSDP2)."""
    dist_backend: str | None = None
    """torch.distributed backend when launched as several ranks: nccl | gloo; None = nccl on GPUs, else gloo."""
    collective_timeout_s: float = 600.0
    """How long a rank waits for the others at a training collective (the batch gather after rollouts, the gradient
    all-reduce) before the run stops, naming a frozen rank as the likely cause. Must exceed how far the ranks drift
    apart between two collectives: one rank's rollouts running longer than the others'."""
    dist_timeout_s: float = 1800.0
    """How long the ranks wait for work one rank does alone (rank 0's held-out checks, checkpoint and final-policy
    writes, clearing the run folder, building the default model) before the run fails."""


@dataclass(kw_only=True)
class TrainConfig(OutputSettings, DistributedSettings, UpdateSettings, CreditSettings, InferenceSettings,
                  PoolSettings, RolloutSettings, EpisodeSettings, ModelTrainingSettings, RunSettings):
    """Every setting of one training run; the single source of their defaults.

    The bases only group the fields (for ``--help`` and for the parts that read one group, such as
    ``agentgym.train.update`` taking ``UpdateSettings``); a ``TrainConfig`` is a flat set of fields, listed
    from ``RunSettings`` to ``OutputSettings``, plus ``features``: each registered trainer feature's
    settings by feature name, written and read as flat ``{feature}_{field}`` keys.
    """

    features: dict[str, Any] = field(default_factory=dict)
    """Each trainer feature's settings by name; set them as {feature}_{field} (e.g. critic_enabled, epo_coef)."""

    def __post_init__(self) -> None:
        if self.temperature is None:
            self.temperature = TRAIN_TEMPERATURE
        self.resolve_model_training(TRAIN_LR)
        self.features = _feature_settings(self.features)

    def check_run_settings(self) -> None:
        """Refuse counts that would run but mean nothing (``--iterations -1`` once trained nothing and exited 0;
        ``--group-size 0`` failed minutes later, after the model was built)."""
        check_at_least(self, (("iterations", 0), ("num_groups", 1), ("group_size", 1), ("eval_every", 0),
                              ("eval_episodes", 1), ("train_eval_episodes", 0), ("checkpoint_every", 0),
                              ("keep_checkpoints", 1), ("console_table_every", 0)))
        for name in ("collective_timeout_s", "dist_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 seconds, got {getattr(self, name)}")
        if self.max_env_steps is not None and self.max_env_steps < 1:
            raise ValueError(f"max_env_steps must be >= 1 (or None), got {self.max_env_steps}")

    def to_dict(self) -> dict[str, Any]:
        """Every setting as a flat mapping (config.yaml, checkpoints): features as {feature}_{field} keys."""
        flat = dataclasses.asdict(self)
        for name, settings in flat.pop("features").items():
            flat.update({f"{name}_{k}": v for k, v in settings.items()})
        return flat

    def value(self, key: str) -> Any:
        """The setting of one flat key (a field, or a feature's {feature}_{field})."""
        if key in _field_names():
            return getattr(self, key)
        name, field_name = _feature_key(key)
        return getattr(self.features[name], field_name)


def _field_names() -> set[str]:
    return {f.name for f in dataclasses.fields(TrainConfig)} - {"features"}


def _feature_settings(given: dict[str, Any]) -> dict[str, Any]:
    """Every registered feature's settings: those given (instances or mappings), the rest at their defaults."""
    from agentgym.train.features import settings_classes

    classes = settings_classes()
    unknown = sorted(set(given) - set(classes))
    if unknown:
        raise ValueError(f"features has settings for {unknown}, which are not trainer features "
                         f"({', '.join(sorted(classes))})")
    out = {}
    for name, cls in classes.items():
        value = given.get(name)
        out[name] = value if isinstance(value, cls) else cls(**(value or {}))
    return out


def _feature_key(key: str) -> tuple[str, str]:
    """(feature, field) of a flat ``{feature}_{field}`` key; KeyError when it names none."""
    from agentgym.train.features import settings_classes

    for name, cls in settings_classes().items():
        if key.startswith(name + "_") and key[len(name) + 1:] in {f.name for f in dataclasses.fields(cls)}:
            return name, key[len(name) + 1:]
    raise KeyError(key)


def known_keys() -> list[str]:
    """Every key a preset or flag may set: the fields and every feature's {feature}_{field}."""
    from agentgym.train.features import settings_classes

    keys = sorted(_field_names())
    for name, cls in settings_classes().items():
        clash = sorted({f"{name}_{f.name}" for f in dataclasses.fields(cls)} & set(keys))
        if clash:
            raise ValueError(f"trainer feature {name!r}: its settings {clash} would shadow settings of the same name; "
                             "rename the feature or the fields")
        keys += [f"{name}_{f.name}" for f in dataclasses.fields(cls)]
    return keys


def translate_deprecated(overrides: dict[str, Any], warn: bool = True) -> dict[str, Any]:
    """Old spellings (``DEPRECATED``, ``DEPRECATED_MAPPINGS``) as today's keys, each with a warning."""
    out: dict[str, Any] = {}
    for key, value in rename_given(overrides, DEPRECATED, warn).items():
        if key in DEPRECATED_MAPPINGS:
            name = DEPRECATED_MAPPINGS[key]
            if not isinstance(value, dict):
                raise ValueError(f"{key} must be a mapping of {name} settings, got {value!r}")
            if warn and value:
                keys = ", ".join(f"{name}_{k}" for k in value)
                print(f"warning: {key} is retired: set {keys} instead (read until the next release)", file=sys.stderr)
            out.update({f"{name}_{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


class ConfigFileError(ValueError):
    """A preset or a run's config.yaml that cannot be read; the CLI prints it as one line."""


def load_yaml(path: str | Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"{path}: cannot read it ({type(exc).__name__}: {exc})") from exc
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigFileError(f"{path}: not valid YAML{at} ({problem}); fix or remove it") from exc
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path}: a config must be a mapping of TrainConfig fields, got {type(data).__name__}")
    return data


def apply_overrides(config: TrainConfig, overrides: dict[str, Any], warn: bool = True) -> TrainConfig:
    """``config`` with flat keys set: fields directly, ``{feature}_{field}`` keys in that feature's settings."""
    overrides = translate_deprecated(overrides, warn)
    known = known_keys()
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        hints = {k: difflib.get_close_matches(k, known, n=1) for k in unknown}
        said = ", ".join(f"{k!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for k, h in hints.items())
        raise ValueError(f"Unknown config keys {said}; `python -m agentgym.train --help` lists the fields")
    fields = {k: v for k, v in overrides.items() if k in _field_names()}
    features = {name: dataclasses.asdict(settings) for name, settings in config.features.items()}
    for key in set(overrides) - set(fields):
        name, field_name = _feature_key(key)
        features[name][field_name] = overrides[key]
    return dataclasses.replace(config, **fields, features=features)


def make_config(**settings: Any) -> TrainConfig:
    """A TrainConfig from flat keys, as a preset would give them (``make_config(critic_enabled=True)``)."""
    return apply_overrides(TrainConfig(), settings)


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """``--config PRESET.yaml`` then ``--field value`` flags, each overriding the dataclass default."""
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    explicit: dict[str, Any] = {}  # presets in order, then flags: everything the user asked for
    for preset in args.pop("config"):
        explicit.update(load_yaml(preset))
    explicit.update(args)
    explicit = translate_deprecated(explicit)
    config = apply_overrides(TrainConfig(), explicit, warn=False)
    return resumed_config(config, explicit) if config.resume else config


def build_parser() -> argparse.ArgumentParser:
    """One option per TrainConfig field, one group per trainer feature, the old spellings hidden."""
    from agentgym.train.features import settings_classes

    parser = argparse.ArgumentParser(
        prog="python -m agentgym.train", description="Train an LLM agent with RL on one shared rollout-and-update "
        "loop. Every option overrides a field of agentgym.train.config.TrainConfig (or of a trainer feature's "
        "settings); presets (--config) are applied first.")
    parser.add_argument("--config", action="append", default=[], metavar="PRESET.yaml",
                        help="YAML preset(s) of TrainConfig fields, applied in order (e.g. configs/frozenlake_grpo.yaml)")
    add_options(parser, TrainConfig, grouped=True, skip=("features",))
    for name, cls in settings_classes().items():
        title = (cls.__doc__ or name).strip().split("\n")[0]
        add_options(parser.add_argument_group(f"feature {title}"), cls, prefix=name)
    add_renamed_options(parser, TrainConfig, {old: new for old, new in DEPRECATED.items() if new in _field_names()})
    for old, new in DEPRECATED.items():
        if new not in _field_names():  # a feature's setting
            name, field_name = _feature_key(new)
            add_renamed_options(parser, settings_classes()[name], {old: field_name})
    for old in DEPRECATED_MAPPINGS:
        parser.add_argument("--" + old.replace("_", "-"), dest=old, type=parse_mapping, default=argparse.SUPPRESS,
                            help=argparse.SUPPRESS)
    return parser


def resumed_config(config: TrainConfig, explicit: dict[str, Any]) -> TrainConfig:
    """The run's saved config.yaml, then only the settings given now that differ from it, each with a warning.

    A resumed run continues the configuration it was started with: without this, a run begun with
    ``--iterations 6 --eval-every 3`` resumed with the defaults and rewrote config.yaml.
    """
    saved_path = Path(config.run_dir) / "config.yaml"
    if not saved_path.is_file():
        return config  # nothing saved yet (killed before setup finished): the settings given now
    saved = translate_deprecated(load_yaml(saved_path), warn=False)
    known = set(known_keys())
    dropped = sorted(set(saved) - known)
    if dropped:
        print(f"resume: {saved_path} has settings this version no longer knows, ignored: {dropped}", file=sys.stderr)
    base = apply_overrides(TrainConfig(), {k: v for k, v in saved.items() if k in known})
    wanted = apply_overrides(base, explicit)  # the same parsing and types for both sides
    changed = {k: wanted.value(k) for k in explicit
               if k not in ("resume", "overwrite") and wanted.value(k) != base.value(k)}
    for key, value in changed.items():
        print(f"resume: --{key.replace('_', '-')} {value!r} overrides the run's saved {base.value(key)!r}",
              file=sys.stderr)
    return apply_overrides(base, {**changed, "resume": True, "overwrite": config.overwrite})
