"""Collect groups of multi-turn rollouts with one batched policy call per step.

All rollouts of a group reset to the same task and seed. At every step the prompts of all active
environments go to the policy in one ``generate`` call; environments are then stepped together on a
thread pool so slow (HTTP, subprocess) environments do not serialise the batch.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import gymnasium

from agentgym.lazy_info import lazy_copy, lazy_subset
from agentgym.policy import Policy, SamplingParams
from agentgym.prompts import HistoryItem, build_messages, parse_action
from agentgym.registry import make, prompt_history_len
from agentgym.types import Step, Trajectory


@dataclass
class RolloutStats:
    policy_s: float = 0.0  # time inside policy.generate
    env_s: float = 0.0  # time resetting and stepping environments
    total_s: float = 0.0
    policy_calls: int = 0
    steps: int = 0
    response_tokens: int = 0


@dataclass
class PromptConfig:
    history_len: int | None = None  # None = the environment's prompt_history_len
    show_admissible: bool = True


@dataclass
class _Episode:
    """Book-keeping for one running rollout."""

    env_index: int
    traj: Trajectory
    observation: str
    info: dict[str, Any]
    history: list[HistoryItem] = field(default_factory=list)
    done: bool = False


class EnvPool:
    """A fixed set of environments reused across iterations, stepped on a thread pool."""

    def __init__(self, env_id: str, split: str, size: int, env_kwargs: dict[str, Any] | None = None,
                 max_steps: int | None = None, workers: int = 4):
        kwargs = dict(env_kwargs or {})
        if max_steps is not None:
            kwargs["max_steps"] = max_steps
        self.env_id = env_id
        self.envs: list[gymnasium.Env] = [make(env_id, split=split, **kwargs) for _ in range(size)]
        self.executor = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="env")

    def __len__(self) -> int:
        return len(self.envs)

    def reset(self, indices: list[int], resets: list[dict[str, Any]]) -> list[tuple[str, dict]]:
        return list(self.executor.map(lambda i, kw: self.envs[i].reset(**kw), indices, resets))

    def step(self, indices: list[int], actions: list[str]) -> list[tuple]:
        return list(self.executor.map(lambda i, a: self.envs[i].step(a), indices, actions))

    def task_ids(self) -> list[str]:
        return list(self.envs[0].unwrapped.task_ids())

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        for env in self.envs:
            env.close()


def collect(pool: EnvPool, policy: Policy, group_resets: list[dict[str, Any]], group_size: int,
            sampling: SamplingParams, prompt: PromptConfig | None = None,
            progress: Any = None) -> tuple[list[Trajectory], RolloutStats]:
    """Run ``len(group_resets) x group_size`` episodes to the end.

    ``group_resets[g]`` are the ``reset`` kwargs of group g (``{"seed": s}`` or
    ``{"options": {"task_id": ...}}``); trajectory ``traj_id = g * group_size + j``.
    """
    prompt = prompt or PromptConfig()
    if prompt.history_len is None:
        prompt = replace(prompt, history_len=prompt_history_len(pool.env_id))
    n = len(group_resets) * group_size
    if n > len(pool):
        raise ValueError(f"{n} rollouts need {n} environments; the pool has {len(pool)}")
    stats = RolloutStats()
    start = time.perf_counter()
    episodes = _reset_all(pool, group_resets, group_size, stats)
    while active := [ep for ep in episodes if not ep.done]:
        messages = [_messages(ep, prompt) for ep in active]
        tick = time.perf_counter()
        infos = [lazy_copy(ep.info, step=len(ep.traj.steps)) for ep in active]  # expert values stay deferred
        generations = policy.generate(messages, sampling, infos=infos)
        stats.policy_s += time.perf_counter() - tick
        stats.policy_calls += 1
        parsed = [parse_action(g.text) for g in generations]
        env_actions = [a if a is not None else g.text for a, g in zip(parsed, generations)]
        tick = time.perf_counter()
        results = pool.step([ep.env_index for ep in active], env_actions)
        stats.env_s += time.perf_counter() - tick
        for ep, msgs, gen, action, env_action, result in zip(active, messages, generations, parsed,
                                                             env_actions, results):
            _record(ep, msgs, gen, action, env_action, result)
            stats.response_tokens += len(gen.token_ids)
        stats.steps += len(active)
        if progress is not None:
            progress.update(len(active))
    stats.total_s = time.perf_counter() - start
    return [ep.traj for ep in episodes], stats


def _reset_all(pool: EnvPool, group_resets: list[dict[str, Any]], group_size: int,
               stats: RolloutStats) -> list[_Episode]:
    indices = list(range(len(group_resets) * group_size))
    resets = [group_resets[i // group_size] for i in indices]
    tick = time.perf_counter()
    results = pool.reset(indices, resets)
    stats.env_s += time.perf_counter() - tick
    episodes = []
    for i, (obs, info) in zip(indices, results):
        traj = Trajectory(group_id=i // group_size, traj_id=i, task_id=info["task_id"], task_type=info["task_type"])
        episodes.append(_Episode(env_index=i, traj=traj, observation=obs, info=info))
    return episodes


def _messages(ep: _Episode, prompt: PromptConfig):
    admissible = ep.info.get("admissible_actions") if prompt.show_admissible else None
    return build_messages(ep.info.get("task"), ep.observation, ep.history, admissible, prompt.history_len)


def _record(ep: _Episode, messages, gen, action: str | None, env_action: str, result: tuple) -> None:
    obs, reward, terminated, truncated, info = result
    step = Step(
        group_id=ep.traj.group_id, traj_id=ep.traj.traj_id, t=len(ep.traj.steps), prompt=messages,
        response=gen.text, action=env_action, reward=float(reward), state_key=ep.info["state_key"],
        observation=ep.observation, prompt_ids=gen.prompt_ids, response_ids=gen.token_ids,
        logprobs=gen.logprobs, entropies=gen.entropies, action_valid=bool(info.get("action_valid", True)),
        format_valid=action is not None, terminated=bool(terminated), truncated=bool(truncated),
        info=lazy_subset(ep.info, ("expert_steps_left",), success=bool(info.get("success"))),  # read if needed
    )
    ep.traj.steps.append(step)
    ep.history.append(HistoryItem(env_action if action is not None else "(no valid action)", obs))
    ep.observation, ep.info = obs, info
    if terminated or truncated:
        ep.done = True
        ep.traj.success = bool(info.get("success"))
        ep.traj.score = float(info.get("score") or 0.0)
