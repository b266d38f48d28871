"""Scripted policies (expert, noisy expert, random admissible, replay) behind the same ``Policy`` protocol.

They answer with ``format_action(action)`` and leave the token fields empty, so rollouts and
evaluation treat them exactly like language models (baselines, demonstrations, smoke tests).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agentgym.core.policy import Generation, SamplingParams
from agentgym.core.types import Messages
from agentgym.rollout.prompts import format_action

_STEP_LINE = re.compile(r"^Step (\d+): you did ", re.MULTILINE)


def _need_infos(infos: list[dict[str, Any]] | None, n: int, who: str) -> list[dict[str, Any]]:
    if infos is None or len(infos) != n:
        raise ValueError(f"{who} reads the environments' info dicts: pass infos=[...] (one per prompt)")
    return infos


class ExpertPolicy:
    """Plays ``info["expert_action"]``; an empty action where the environment has no expert here."""

    info_keys = ("expert_action",)  # deferred info values the rollout must compute for it

    def generate(self, prompts: list[Messages], sampling: SamplingParams | None = None,
                 infos: list[dict[str, Any]] | None = None) -> list[Generation]:
        infos = _need_infos(infos, len(prompts), "ExpertPolicy")
        return [Generation(text=format_action(info.get("expert_action") or "")) for info in infos]


class RandomPolicy:
    """Uniform over ``info["admissible_actions"]``; ``fallback`` where the environment lists none."""

    def __init__(self, seed: int | None = 0, fallback: str = ""):
        self.rng = np.random.default_rng(seed)
        self.fallback = fallback

    def generate(self, prompts: list[Messages], sampling: SamplingParams | None = None,
                 infos: list[dict[str, Any]] | None = None) -> list[Generation]:
        infos = _need_infos(infos, len(prompts), "RandomPolicy")
        out = []
        for info in infos:
            actions = info.get("admissible_actions") or []
            action = str(actions[int(self.rng.integers(len(actions)))]) if actions else self.fallback
            out.append(Generation(text=format_action(action)))
        return out


class NoisyExpertPolicy:
    """The expert, except that each step is a random admissible action with probability ``epsilon``.

    Gives a mix of successes and failures of graded quality (exploration data for progress
    estimators, baselines between random and expert).
    """

    info_keys = ("expert_action",)

    def __init__(self, epsilon: float, seed: int | None = 0):
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must lie in [0, 1], got {epsilon}")
        self.epsilon = epsilon
        self.rng = np.random.default_rng(seed)
        self.expert, self.random = ExpertPolicy(), RandomPolicy(seed=None if seed is None else seed + 1)

    def generate(self, prompts: list[Messages], sampling: SamplingParams | None = None,
                 infos: list[dict[str, Any]] | None = None) -> list[Generation]:
        infos = _need_infos(infos, len(prompts), "NoisyExpertPolicy")
        explore = self.rng.random(len(prompts)) < self.epsilon
        out = []
        for prompt, info, noisy in zip(prompts, infos, explore):
            who = self.random if noisy and info.get("admissible_actions") else self.expert
            out.extend(who.generate([prompt], sampling, infos=[info]))
        return out


def step_index(messages: Messages) -> int:
    """Index of the current step, read from the prompt's "Step k: you did ..." history lines.

    Needs ``history_len >= 1``; with no history lines it is step 0 (rollouts also pass ``info["step"]``).
    Stateless on purpose: batched rollouts reset and reorder episodes freely.
    """
    user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    numbers = [int(k) for k in _STEP_LINE.findall(user)]
    return max(numbers) if numbers else 0


class ReplayPolicy:
    """Replays fixed actions: one list for every episode, or ``{task_id: [...]}`` per task.

    The step is the rollout's ``info["step"]``, else read from the prompt's history lines (see
    ``step_index``); past the end of its list the policy repeats ``after_end`` (default: the last action).
    """

    def __init__(self, actions: Sequence[str] | Mapping[str, Sequence[str]], after_end: str | None = None):
        self.actions = {k: list(v) for k, v in actions.items()} if isinstance(actions, Mapping) else list(actions)
        self.after_end = after_end

    @classmethod
    def from_file(cls, path: str | Path) -> ReplayPolicy:
        """A JSON list of actions, a JSON ``{task_id: [actions]}`` object, or a text file of one action per line."""
        text = Path(path).read_text()
        try:
            return cls(json.loads(text))
        except json.JSONDecodeError:
            return cls([line.strip() for line in text.splitlines() if line.strip()])

    def _script(self, info: dict[str, Any]) -> list[str]:
        if isinstance(self.actions, list):
            return self.actions
        task_id = info.get("task_id")
        if task_id not in self.actions:
            raise KeyError(f"ReplayPolicy has no actions for task {task_id!r}")
        return self.actions[task_id]

    def generate(self, prompts: list[Messages], sampling: SamplingParams | None = None,
                 infos: list[dict[str, Any]] | None = None) -> list[Generation]:
        out = []
        for i, messages in enumerate(prompts):
            info = infos[i] if infos else {}
            script = self._script(info)
            t = int(info["step"]) if info.get("step") is not None else step_index(messages)
            if t < len(script):
                action = script[t]
            else:
                action = self.after_end if self.after_end is not None else (script[-1] if script else "")
            out.append(Generation(text=format_action(action)))
        return out
