"""Full evaluation reports from the trainer's periodic held-out checks, with no extra rollouts.

``agentgym.train.evaluate_now`` runs ``agentgym.evaluation.evaluate`` (seed 0, greedy, the first
``eval_episodes`` tasks of ``eval_split``): exactly seed 0 of ``python -m agentgym.eval``. Passing its
``EvalResult`` here writes ``RUN_DIR/eval/iter_N/`` with the same report.json, summary.md and viewer
as the command, so training-time numbers carry their split hash and can be opened and compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentgym.eval.episodes import EpisodeLog, records_from_trajectories
from agentgym.eval.report import write_outputs
from agentgym.eval.runner import EvalSettings, make_plan


def write_training_eval(run_dir: str | Path, iteration: int, result: Any, env_id: str,
                        env_kwargs: dict[str, Any] | None = None, max_steps: int | None = None,
                        history_len: int | None = None, show_admissible: bool = True, max_new_tokens: int = 64,
                        policy_spec: str | None = None) -> dict[str, Any]:
    """Write ``run_dir/eval/iter_{iteration}/`` from an ``EvalResult``; returns the report."""
    settings = EvalSettings(env_id, split=result.split, episodes=len(result.task_ids), seeds=1,
                            env_kwargs=dict(env_kwargs or {}), max_steps=max_steps, history_len=history_len,
                            show_admissible=show_admissible, max_new_tokens=max_new_tokens)
    spec = policy_spec or f"{Path(run_dir).name} @ iteration {iteration}"
    plan = make_plan(settings, spec)
    if plan["task_ids"] != list(result.task_ids):
        raise ValueError("the EvalResult's tasks are not the first tasks of the split in order")
    out = Path(run_dir) / "eval" / f"iter_{iteration}"
    out.mkdir(parents=True, exist_ok=True)
    records = records_from_trajectories(result.trajectories, seed=0)
    EpisodeLog(out / "episodes.jsonl").write_all(records)
    return write_outputs(out, records, plan)
