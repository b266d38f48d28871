"""The trainer's held-out checks, and their full evaluation reports with no extra rollouts.

``evaluate_now`` runs ``agentgym.eval.held_out.evaluate`` (seed 0, greedy, the first ``eval_episodes``
tasks of ``eval_split``): exactly seed 0 of ``python -m agentgym.eval``. ``write_training_eval``
turns its ``EvalResult`` into ``RUN_DIR/eval/iter_N/`` with the same report.json, summary.md and
viewer as the command, so training-time numbers carry their split hash and can be opened and
compared. ``baseline_metrics`` checks scripted policies on the same tasks once, for the summary.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from agentgym.core import plugins
from agentgym.core.env import TasksNotListed
from agentgym.core.registry import class_attribute
from agentgym.eval.episodes import EpisodeLog, records_from_trajectories
from agentgym.eval.held_out import evaluate
from agentgym.eval.report import write_outputs
from agentgym.eval.runner import EvalSettings, make_plan
from agentgym.rollout.episode import EpisodeSettings
from agentgym.train.trainer import Trainer
from agentgym.util import console


def write_training_eval(run_dir: str | Path, iteration: int, result: Any, episode: EpisodeSettings,
                        policy_spec: str | None = None) -> dict[str, Any]:
    """Write ``run_dir/eval/iter_{iteration}/`` from an ``EvalResult`` of greedy checks run with ``episode``'s
    prompt settings; returns the report."""
    settings = EvalSettings(**{**episode.episode_fields(), "temperature": 0.0}, split=result.split,
                            episodes=len(result.task_ids), seeds=1)
    spec = policy_spec or f"{Path(run_dir).name} @ iteration {iteration}"
    plan = make_plan(settings, spec)
    if plan["task_ids"] != list(result.task_ids):
        raise ValueError("the EvalResult's tasks are not the first tasks of the split in order")
    out = Path(run_dir) / "eval" / f"iter_{iteration}"
    out.mkdir(parents=True, exist_ok=True)
    records = records_from_trajectories(result.trajectories, seed=0)
    EpisodeLog(out / "episodes.jsonl").write_all(records)
    return write_outputs(out, records, plan)


def evaluate_now(trainer: Trainer, summary: bool = False) -> dict[str, float]:
    """Greedy held-out checks; ``summary``: also on the summary_splits (at the start and the end). On an
    environment that cannot list its tasks the checks are left out for the rest of the run, said once."""
    tick = time.perf_counter()
    try:
        metrics = _held_out_metrics(trainer, summary)
    except TasksNotListed as exc:
        _leave_out_held_out_checks(trainer, str(exc))
        metrics = {}
    metrics["time/eval_s"] = time.perf_counter() - tick
    return metrics


def _leave_out_held_out_checks(trainer: Trainer, reason: str) -> None:
    for pool in (trainer.eval_pool, trainer.train_eval_pool, *trainer.summary_pools.values()):
        if pool is not None:
            pool.close()
    trainer.eval_pool, trainer.train_eval_pool, trainer.summary_pools = None, None, {}
    console.phase("eval", f"held-out checks left out for this run: {reason}")


def _held_out_metrics(trainer: Trainer, summary: bool) -> dict[str, float]:
    config, metrics = trainer.config, {}
    if trainer.eval_pool is not None:
        result = evaluate(trainer.eval_policy, trainer.eval_pool, config.eval_split, config.eval_episodes, config)
        metrics.update(result.metrics("eval/"))
        write_training_eval(config.run_dir, trainer.iteration, result, config)
    if trainer.train_eval_pool is not None:
        result = evaluate(trainer.eval_policy, trainer.train_eval_pool, "train", config.train_eval_episodes, config)
        metrics.update(result.metrics("train_eval/"))
    for split, pool in (trainer.summary_pools.items() if summary else ()):
        result = evaluate(trainer.eval_policy, pool, split, config.eval_episodes, config)
        metrics.update(result.metrics(f"eval_{split}/"))
    return metrics


def baseline_metrics(trainer: Trainer) -> dict[str, float]:
    """Greedy success of the summary_baselines on the tasks the trained policy is checked on: ``baseline_<name>/``
    keys on eval_split, plus ``baseline_<name>/success_rate_<split>`` on each summary split. A baseline the
    environment cannot support (an expert it lacks, random choices among admissible actions it does not list,
    a heuristic nobody wrote for it) is left out."""
    config, metrics = trainer.config, {}
    if trainer.eval_pool is None:  # no held-out checks in this run (eval_every 0, or tasks that cannot be listed)
        return metrics
    supported = {"random": class_attribute(config.env, "has_admissible_actions", True),
                 "expert": class_attribute(config.env, "has_expert", True)}
    for spec in config.summary_baselines:
        if not supported.get(spec.partition(":")[0], True):
            continue
        try:
            policy = plugins.policy_from_spec(spec, env_id=config.env)
        except ValueError as exc:  # e.g. 'no heuristic baseline for ...'
            console.phase("eval", f"baseline {spec!r} left out: {exc}")
            continue
        name = "baseline_" + spec.replace(":", "_")
        result = evaluate(policy, trainer.eval_pool, config.eval_split, config.eval_episodes, config)
        metrics.update(result.metrics(f"{name}/"))
        for split, pool in trainer.summary_pools.items():
            result = evaluate(policy, pool, split, config.eval_episodes, config)
            metrics[f"{name}/success_rate_{split}"] = result.metrics("")["success_rate"]
    return metrics
