"""Run a policy over a split, batched through the training rollout code, writing episodes as they finish.

Protocol (recorded in the report): the first ``episodes`` task ids of the split in their fixed
order (all of them by default), each played once per seed ``s`` in ``0..seeds-1`` with
``reset(seed=s, options={"task_id": id})`` and ``SamplingParams(seed=s)``. Seed 0 with greedy
decoding is exactly what the trainer's periodic held-out check (``agentgym.eval.held_out.evaluate``) runs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from agentgym.core.policy import Policy
from agentgym.core.registry import SPLITS, prompt_history_len
from agentgym.core.types import Trajectory
from agentgym.eval.episodes import EpisodeLog, episode_record
from agentgym.eval.report import write_outputs
from agentgym.eval.splits import fingerprint, split_task_ids
from agentgym.rollout.collect import collect
from agentgym.rollout.episode import EpisodeSettings
from agentgym.rollout.pool.settings import PoolSettings
from agentgym.util.params import check_choice

# where and how fast episodes run, not what they are: kept out of the report's protocol
POOL_FIELDS = tuple(f.name for f in fields(PoolSettings) if f.name != "max_observation_chars")


EVAL_TEMPERATURE = 0.0  # what temperature=None means for evaluation: greedy decoding


@dataclass(kw_only=True)
class EvalSettings(PoolSettings, EpisodeSettings):
    """What to evaluate and how; every field but the pool's lands in the report's ``protocol``.

    The episode fields (environment, prompt, response budget, sampling) are ``EpisodeSettings``, the
    trainer's own, so a policy is evaluated on the prompts it was trained with.
    """

    split: str = "valid_unseen"
    """Split whose tasks are played: train | valid_seen | valid_unseen."""
    episodes: int | None = None
    """The first N task ids of the split; None = the whole split."""
    seeds: int = 1
    """Play every task once per seed 0..K-1 (reset seed and sampling seed)."""
    pass_k: tuple[int, ...] = ()
    """k values of pass@k, comma-separated (needs seeds >= k)."""
    batch_size: int = 16
    """Environments played together (one policy call per step for the batch)."""

    def __post_init__(self) -> None:
        if self.temperature is None:
            self.temperature = EVAL_TEMPERATURE
        check_choice(self.split, SPLITS, "split")
        self.check_pool_settings()
        self.check_episode_settings()
        self._check_ranges()
        self.history_len = prompt_history_len(self.env, self.history_len)

    def _check_ranges(self) -> None:
        for name, value in {"episodes": self.episodes, "seeds": self.seeds, "batch_size": self.batch_size}.items():
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if any(k < 1 for k in self.pass_k):
            raise ValueError(f"pass_k values must be >= 1, got {list(self.pass_k)}")
        if self.pass_k and max(self.pass_k) > self.seeds:
            raise ValueError(f"pass_k: pass@{max(self.pass_k)} needs seeds >= {max(self.pass_k)}, got {self.seeds}")


def make_plan(settings: EvalSettings, policy_spec: str) -> dict[str, Any]:
    """The evaluation's identity: what a resumed run must match, and the report's header."""
    if settings.seeds < 1 or (settings.episodes is not None and settings.episodes < 1):
        raise ValueError(f"need seeds >= 1 and episodes >= 1, got {settings.seeds} and {settings.episodes}")
    kwargs = settings.env_kwargs_with_limit()
    all_ids = split_task_ids(settings.env, settings.split, kwargs)
    chosen = all_ids if settings.episodes is None else all_ids[:settings.episodes]
    if settings.pass_k and max(settings.pass_k) > settings.seeds:
        raise ValueError(f"pass@{max(settings.pass_k)} needs --seeds >= {max(settings.pass_k)}")
    return {
        "env_id": settings.env, "env_kwargs": kwargs, "policy": policy_spec,
        "split": {"name": settings.split, "hash": fingerprint(settings.env, settings.split, kwargs, all_ids),
                  "num_tasks": len(all_ids), "evaluated": len(chosen),
                  "evaluated_hash": fingerprint(settings.env, settings.split, kwargs, chosen)},
        "task_ids": chosen,
        "protocol": {**{k: v for k, v in asdict(settings).items() if k not in ("env", "env_kwargs", "split",
                                                                                "batch_size", *POOL_FIELDS)},
                     "pass_k": list(settings.pass_k),
                     "reset": "reset(seed=s, options={'task_id': id}) for s in range(seeds)",
                     "greedy": settings.temperature <= 0},
    }


def run_evaluation(policy: Policy, settings: EvalSettings, out_dir: str | Path, policy_spec: str = "(object)",
                   resume: bool = False, overwrite: bool = False, progress: bool = True) -> dict[str, Any]:
    """Evaluate, appending to ``out_dir/episodes.jsonl`` batch by batch; returns the report dict."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan = make_plan(settings, policy_spec)
    log = EpisodeLog(out / "episodes.jsonl")
    _check_start(out, log, plan, resume, overwrite)
    (out / "plan.json").write_text(json.dumps(plan, indent=2))
    done = {(r["task_id"], int(r["seed"])) for r in log.repair()}
    pending = [(s, t) for s in range(settings.seeds) for t in plan["task_ids"] if (t, s) not in done]
    if pending:
        _play(policy, settings, pending, log, progress)
    return write_outputs(out, log.read(), plan)


def _check_start(out: Path, log: EpisodeLog, plan: dict[str, Any], resume: bool, overwrite: bool) -> None:
    has_episodes = bool(log.read())
    if overwrite:
        for name in ("episodes.jsonl", "plan.json"):
            (out / name).unlink(missing_ok=True)
    elif has_episodes and not resume:
        raise FileExistsError(f"{out} already holds episodes: pass --resume to complete it or --overwrite.")
    elif has_episodes and (out / "plan.json").exists():
        old = json.loads((out / "plan.json").read_text())
        changed = [k for k in plan if old.get(k) != plan[k]]
        if changed:
            raise ValueError(f"--resume: {out} was started with different settings ({', '.join(changed)}).")


def _play(policy: Policy, settings: EvalSettings, pending: list[tuple[int, str]], log: EpisodeLog,
          progress: bool) -> None:
    size = max(1, min(settings.batch_size, len(pending)))
    pool = settings.make_pool(settings.env, settings.split, size, settings.env_kwargs, settings.max_steps)
    bar = tqdm(total=len(pending), desc="eval", unit="ep", disable=not progress, dynamic_ncols=True)
    lost = 0
    try:
        for seed in sorted({s for s, _ in pending}):
            ids = [t for s, t in pending if s == seed]
            for start in range(0, len(ids), size):
                chunk = ids[start:start + size]
                resets = [{"seed": seed, "options": {"task_id": t}} for t in chunk]
                trajectories, stats = collect(pool, policy, resets, group_size=1, sampling=settings.sampling(seed),
                                              episode=settings)
                log.append(_record(traj, seed) for traj in trajectories)
                lost += stats.lost_episodes
                bar.update(len(chunk))
    finally:
        bar.close()
        pool.close()
    if lost:
        print(f"{lost} episode(s) were lost to infrastructure failures and are missing from {log.path}; "
              "rerun the same command with --resume true to play them", flush=True)


def _record(traj: Trajectory, seed: int) -> dict[str, Any]:
    """Episode record plus the goal text and the last observation the rollout saw."""
    return episode_record(traj, seed, task=traj.task, final_observation=traj.final_observation)
