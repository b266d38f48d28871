"""Episode records and the incremental ``episodes.jsonl`` log that makes evaluations resumable.

One JSON line per finished episode, keyed by ``(task_id, seed)``. Lines are appended and fsynced
as soon as a batch finishes, so an interrupted evaluation keeps its finished episodes; a torn last
line (killed mid-write) is dropped when the log is reopened.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from agentgym.core.types import Step, Trajectory

TASK_PREFIX = "Task: "


def _finite(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def step_record(step: Step, advantage: float | None = None) -> dict[str, Any]:
    """What the viewer shows of one step: the observation the action was taken from, and what followed."""
    return {
        "t": step.t,
        "observation": step.observation,
        "response": step.response,
        "action": step.action,
        "reward": step.reward,
        "action_valid": step.action_valid,
        "format_valid": step.format_valid,
        "entropy": _finite(step.entropy),
        "advantage": _finite(advantage),
        "state_key": step.state_key,
    }


def episode_record(traj: Trajectory, seed: int, task: str | None = None, final_observation: str | None = None,
                   advantages: Sequence[float] | None = None) -> dict[str, Any]:
    """A JSON-ready summary of one finished trajectory; ``advantages`` has one value per step (training)."""
    steps = [step_record(s, advantages[i] if advantages is not None else None) for i, s in enumerate(traj.steps)]
    return {
        "task_id": traj.task_id,
        "seed": int(seed),
        "task_type": traj.task_type,
        "task": task,
        "success": bool(traj.success),
        "score": float(traj.score),
        "return": traj.env_return,
        "num_steps": len(traj.steps),
        "invalid_steps": sum(not (s.format_valid and s.action_valid) for s in traj.steps),
        "truncated": traj.truncated,
        "final_observation": final_observation,
        "steps": steps,
    }


def task_from_prompt(traj: Trajectory) -> str | None:
    """The goal as the policy saw it: the ``Task:`` line ``agentgym.rollout.prompts.build_messages`` writes first."""
    if not traj.steps or not traj.steps[0].prompt:
        return None
    first_line = traj.steps[0].prompt[-1].get("content", "").split("\n", 1)[0]
    return first_line[len(TASK_PREFIX):] if first_line.startswith(TASK_PREFIX) else None


def records_from_trajectories(trajectories: Iterable[Trajectory], seed: int = 0,
                              advantages: Sequence[float] | None = None) -> list[dict[str, Any]]:
    """Records of a batch (e.g. a training iteration); ``advantages`` is the batch's per-step column."""
    records, row = [], 0
    for traj in trajectories:
        adv = list(advantages[row:row + len(traj.steps)]) if advantages is not None else None
        row += len(traj.steps)
        records.append(episode_record(traj, seed, task=task_from_prompt(traj), advantages=adv))
    return records


class EpisodeLog:
    """Append-only JSONL of finished episodes; survives interruption."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def read(self) -> list[dict[str, Any]]:
        """Complete records in file order; a torn or unparsable trailing line is ignored."""
        if not self.path.exists():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break  # only the last line can be torn: everything after it is unreliable
        return records

    def repair(self) -> list[dict[str, Any]]:
        """Rewrite the file with its complete records only (before appending after an interruption)."""
        records = self.read()
        self.write_all(records)
        return records

    def finished(self) -> set[tuple[str, int]]:
        return {(r["task_id"], int(r["seed"])) for r in self.read()}

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            for record in records:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def write_all(self, records: list[dict[str, Any]]) -> None:
        """Replace the log's content atomically."""
        tmp = self.path.with_suffix(".jsonl.tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for record in records:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        os.replace(tmp, self.path)
