"""Held-out evaluation through the same rollout code as training.

Tasks are the first ``episodes`` task ids of the split in its fixed order (the whole split when
``episodes`` is None), so two evaluations of one split always see the same tasks. An episode lost to
infrastructure failures (after its retries) is left out of the means and counted in ``lost``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agentgym.core.policy import Policy
from agentgym.core.types import Trajectory
from agentgym.rollout.collect import collect
from agentgym.rollout.episode import EpisodeSettings
from agentgym.rollout.pool import EnvPool


@dataclass
class EvalResult:
    split: str
    task_ids: list[str]
    trajectories: list[Trajectory] = field(default_factory=list)
    lost: int = 0  # episodes lost to infrastructure failures

    def metrics(self, prefix: str = "eval/") -> dict[str, float]:
        return {**summarise(self.trajectories, prefix), f"{prefix}infra_lost_episodes": float(self.lost)}


def summarise(trajectories: list[Trajectory], prefix: str) -> dict[str, float]:
    """Success rate, score, length and invalid-action rate of finished trajectories."""
    if not trajectories:
        return {}
    steps = [s for traj in trajectories for s in traj.steps]
    return {
        f"{prefix}success_rate": float(np.mean([t.success for t in trajectories])),
        f"{prefix}score": float(np.mean([t.score for t in trajectories])),
        f"{prefix}episode_len": float(np.mean([len(t) for t in trajectories])),
        f"{prefix}invalid_action_rate": float(np.mean([not (s.format_valid and s.action_valid) for s in steps]))
        if steps else 0.0,
        f"{prefix}truncated_rate": float(np.mean([t.truncated for t in trajectories])),
    }


def evaluate(policy: Policy, pool: EnvPool, split: str, episodes: int | None = None,
             episode: EpisodeSettings | None = None, progress=None) -> EvalResult:
    """Run each chosen task once with greedy decoding, batched over the pool's environments.

    ``episode``: the prompt and response budget (``max_new_tokens``) of the run being checked.
    """
    task_ids = pool.task_ids()
    if episodes is not None:
        task_ids = task_ids[:episodes]
    episode = episode or EpisodeSettings()
    sampling = episode.sampling(unset_temperature=0.0)
    sampling.greedy, sampling.temperature = True, 0.0  # held-out checks decode greedily whatever the run samples at
    result = EvalResult(split=split, task_ids=task_ids)
    for start in range(0, len(task_ids), len(pool)):
        chunk = task_ids[start:start + len(pool)]
        resets = [{"seed": 0, "options": {"task_id": task_id}} for task_id in chunk]
        trajectories, stats = collect(pool, policy, resets, group_size=1, sampling=sampling, episode=episode,
                                      progress=progress)
        result.trajectories.extend(trajectories)
        result.lost += stats.lost_episodes
    return result
