"""Collect groups of multi-turn rollouts with one batched policy call per step: the one rollout path
of training, evaluation and SFT data collection.

All rollouts of a group reset to the same task and seed. At every step the prompts of all active
episodes go to the policy in one ``generate`` call, after the context guard fitted them; the pool
then steps their environments together (``agentgym.rollout.pool``: threads, processes or Ray actors).

An episode whose environment fails (an ``EnvFailure``: it raised, timed out or its worker died) is
an infrastructure failure: its steps are thrown away, never scored, and the same task is played
again from its reset on a fresh environment, up to ``episode_retries`` times; after that the episode
is lost and its group's statistics are taken over the rest (docs/rollout.md, "Fault model").
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, fields
from typing import Any

from agentgym.core.policy import Policy, SamplingParams
from agentgym.core.registry import prompt_history_len
from agentgym.core.types import Step, Trajectory
from agentgym.rollout.context_guard import ContextGuard, guard_for
from agentgym.rollout.episode import EpisodeSettings
from agentgym.rollout.pool import EnvFailure, EnvPool
from agentgym.rollout.prompts import HistoryItem, parse_action

logger = logging.getLogger("agentgym.rollout")
_LOGGED_KINDS: set[str] = set()  # the first failure of each kind is logged with its traceback, once per process


@dataclass
class RolloutStats:
    policy_s: float = 0.0  # time inside policy.generate
    env_s: float = 0.0  # time resetting and stepping environments
    total_s: float = 0.0
    policy_calls: int = 0
    steps: int = 0  # environment steps taken, including those of failed attempts
    response_tokens: int = 0
    episodes: int = 0  # episodes asked for
    attempts: int = 0  # episodes started (retries after failures included)
    failed_attempts: int = 0  # attempts ended by an infrastructure failure (their steps are dropped)
    lost_episodes: int = 0  # episodes with no finished attempt after the retries
    env_errors: int = 0
    env_timeouts: int = 0
    worker_deaths: int = 0
    worker_restarts: int = 0
    prompts: int = 0
    prompts_truncated: int = 0  # prompts the context guard had to shorten
    observations_cut: int = 0  # observations the pool cut to the environment's max_observation_chars

    def metrics(self, prefix: str = "rollout/") -> dict[str, float]:
        return {
            f"{prefix}env_errors": float(self.env_errors),
            f"{prefix}env_timeouts": float(self.env_timeouts),
            f"{prefix}worker_restarts": float(self.worker_restarts),
            f"{prefix}infra_dropped_frac": self.infra_dropped_frac,
            f"{prefix}infra_lost_episodes": float(self.lost_episodes),
            f"{prefix}prompt_truncated_frac": self.prompts_truncated / max(self.prompts, 1),
            f"{prefix}observation_cut_frac": self.observations_cut / max(self.steps + self.attempts, 1),
        }

    @classmethod
    def merged(cls, parts: list[RolloutStats]) -> RolloutStats:
        """One batch's stats from its shards (data-parallel ranks): counts add up, times take the slowest."""
        out = cls()
        for name in (f.name for f in fields(cls)):
            values = [getattr(p, name) for p in parts]
            setattr(out, name, max(values) if name.endswith("_s") else sum(values))
        return out

    @property
    def infra_dropped_frac(self) -> float:
        """Share of started episodes thrown away because of an infrastructure failure."""
        return self.failed_attempts / max(self.attempts, 1)


@dataclass
class _Episode:
    """Book-keeping for one episode (over its attempts)."""

    env_index: int
    reset: dict[str, Any]
    traj: Trajectory
    observation: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    history: list[HistoryItem] = field(default_factory=list)
    attempts: int = 0
    running: bool = False
    done: bool = False
    lost: bool = False


def collect(pool: EnvPool, policy: Policy, group_resets: list[dict[str, Any]], group_size: int,
            sampling: SamplingParams, episode: EpisodeSettings | None = None, progress: Any = None,
            episode_retries: int = 1, info_keys: tuple[str, ...] = ()) -> tuple[list[Trajectory], RolloutStats]:
    """Run ``len(group_resets) x group_size`` episodes to the end; returns the finished ones.

    ``group_resets[g]`` are the ``reset`` kwargs of group g (``{"seed": s}`` or
    ``{"options": {"task_id": ...}}``); trajectory ``traj_id = g * group_size + j``. Lost episodes
    (see the module docstring) are missing from the list. ``info_keys``: deferred info values to
    compute at every step besides the policy's own ``info_keys`` (scripted policies read the expert's).
    """
    episode = episode or EpisodeSettings()  # only its prompt fields are read: the pool holds the environment
    history_len = prompt_history_len(pool.env_id, episode.history_len)  # the registry only when unset
    n = len(group_resets) * group_size
    if n > len(pool):
        raise ValueError(f"{n} rollouts need {n} environments; the pool has {len(pool)}")
    keys = tuple(dict.fromkeys((*getattr(policy, "info_keys", ()), *info_keys)))
    guard = guard_for(policy, episode.max_prompt_tokens, sampling.max_new_tokens, episode.prompt_format(pool.env_id))
    stats = RolloutStats(episodes=n)
    start, restarts_before = time.perf_counter(), pool.worker_restarts
    episodes = [_Episode(env_index=i, reset=group_resets[i // group_size],
                         traj=Trajectory(group_id=i // group_size, traj_id=i, task_id=""))
                for i in range(n)]
    while True:
        _reset(pool, [ep for ep in episodes if not ep.running and not ep.done], keys, stats, episode_retries)
        active = [ep for ep in episodes if ep.running]
        if not active:
            break
        messages = [_messages(ep, episode.show_admissible, history_len, guard, stats) for ep in active]
        tick = time.perf_counter()
        infos = [{**ep.info, "step": len(ep.traj.steps)} for ep in active]  # pools send plain dicts
        generations = policy.generate(messages, sampling, infos=infos)
        stats.policy_s += time.perf_counter() - tick
        stats.policy_calls += 1
        parsed = [parse_action(g.text) for g in generations]
        env_actions = [a if a is not None else g.text for a, g in zip(parsed, generations)]
        tick = time.perf_counter()
        results = pool.step([ep.env_index for ep in active], env_actions, keys)
        stats.env_s += time.perf_counter() - tick
        for ep, msgs, gen, action, env_action, result in zip(active, messages, generations, parsed,
                                                             env_actions, results):
            stats.response_tokens += len(gen.token_ids)
            if isinstance(result, EnvFailure):
                _fail(ep, result, stats, episode_retries)
            else:
                _record(ep, msgs, gen, action, env_action, result, keys, stats)
        stats.steps += len(active)
        if progress is not None:
            progress.update(len(active))
    stats.worker_restarts = pool.worker_restarts - restarts_before
    stats.total_s = time.perf_counter() - start
    return [ep.traj for ep in episodes if not ep.lost], stats


def _reset(pool: EnvPool, waiting: list[_Episode], keys: tuple[str, ...], stats: RolloutStats,
           retries: int) -> None:
    """Start (or restart, after a failure) the waiting episodes; failed resets may be retried at once."""
    while waiting:
        tick = time.perf_counter()
        results = pool.reset([ep.env_index for ep in waiting], [ep.reset for ep in waiting], keys)
        stats.env_s += time.perf_counter() - tick
        for ep, result in zip(waiting, results):
            stats.attempts += 1
            if isinstance(result, EnvFailure):
                _fail(ep, result, stats, retries)
                continue
            obs, info = result
            ep.traj = Trajectory(group_id=ep.traj.group_id, traj_id=ep.traj.traj_id, task_id=info["task_id"],
                                 task_type=info["task_type"], task=info.get("task"), final_observation=obs)
            ep.observation, ep.info, ep.history, ep.running = obs, info, [], True
            stats.observations_cut += bool(info.get("observation_cut"))
        waiting = [ep for ep in waiting if not ep.running and not ep.done]


def _fail(ep: _Episode, failure: EnvFailure, stats: RolloutStats, retries: int) -> None:
    """Drop the attempt; play the task again from its reset while retries remain, else lose the episode."""
    stats.failed_attempts += 1
    field_name = {"error": "env_errors", "timeout": "env_timeouts", "worker_died": "worker_deaths"}[failure.kind]
    setattr(stats, field_name, getattr(stats, field_name) + 1)
    if failure.kind not in _LOGGED_KINDS:
        _LOGGED_KINDS.add(failure.kind)
        task = ep.traj.task_id or f"reset {ep.reset}"
        logger.warning("infrastructure failure (%s) on task %s, step %d: %s (episode dropped; later failures of "
                       "this kind are only counted)\n%s", failure.kind, task, len(ep.traj.steps), failure.message,
                       failure.traceback)
    ep.attempts += 1
    ep.running = False
    ep.traj.steps = []
    if ep.attempts > retries:
        ep.done = ep.lost = True
        stats.lost_episodes += 1


def _messages(ep: _Episode, show_admissible: bool, history_len: int, guard: ContextGuard, stats: RolloutStats):
    admissible = ep.info.get("admissible_actions") if show_admissible else None
    messages, shortened = guard.build(ep.info.get("task"), ep.observation, ep.history, admissible, history_len)
    stats.prompts += 1
    stats.prompts_truncated += shortened
    return messages


def _record(ep: _Episode, messages, gen, action: str | None, env_action: str, result: tuple,
            keys: tuple[str, ...], stats: RolloutStats) -> None:
    obs, reward, terminated, truncated, info = result
    step = Step(
        group_id=ep.traj.group_id, traj_id=ep.traj.traj_id, t=len(ep.traj.steps), prompt=messages,
        response=gen.text, action=env_action, reward=float(reward), state_key=ep.info["state_key"],
        observation=ep.observation, prompt_ids=gen.prompt_ids, response_ids=gen.token_ids,
        logprobs=gen.logprobs, entropies=gen.entropies, action_valid=bool(info.get("action_valid", True)),
        format_valid=action is not None, terminated=bool(terminated), truncated=bool(truncated),
        policy_version=gen.policy_version,
        info={**{k: ep.info.get(k) for k in ("expert_steps_left", *keys)}, "success": bool(info.get("success"))},
    )
    ep.traj.steps.append(step)
    ep.history.append(HistoryItem(env_action if action is not None else "(no valid action)", obs))
    ep.observation, ep.info = obs, info
    ep.traj.final_observation = obs
    stats.observations_cut += bool(info.get("observation_cut"))
    if terminated or truncated:
        ep.done, ep.running = True, False
        ep.traj.success = bool(info.get("success"))
        ep.traj.score = float(info.get("score") or 0.0)
