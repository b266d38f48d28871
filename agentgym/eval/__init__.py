"""Evaluation on held-out tasks: ``python -m agentgym.eval``, reports, a trajectory viewer, comparisons.

``run_evaluation`` plays a policy over a split through the training rollout code and writes
``episodes.jsonl`` (incremental, resumable), ``report.json``, ``summary.md`` and ``viewer.html``.
See docs/evaluation.md for the protocol and every report field.
"""

from agentgym.eval.compare import compare
from agentgym.eval.episodes import EpisodeLog, episode_record, records_from_trajectories
from agentgym.eval.report import build_report, markdown_summary, write_outputs
from agentgym.eval.runner import EvalSettings, make_plan, run_evaluation
from agentgym.eval.splits import fingerprint, split_task_ids
from agentgym.eval.viewer import write_viewer

__all__ = ["EpisodeLog", "EvalSettings", "build_report", "compare", "episode_record", "fingerprint",
           "make_plan", "markdown_summary", "records_from_trajectories", "run_evaluation", "split_task_ids",
           "write_outputs", "write_viewer"]
