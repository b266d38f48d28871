"""Supervised examples from a teacher: the prompts the RL rollout shows, the teacher's action.

The teacher is the environment's expert (``info["expert_action"]``) or its hand-written heuristic
(``policies.heuristics``, which reads only the prompt). The episodes are played through the rollout's
own ``collect`` (so SFT prompts are exactly the prompts RL shows, context guard and observation limit
included) by ``TeacherExplorer``: it plays the teacher's action, except that with probability
``explore`` a random admissible action drives the episode while the label stays the teacher's
(DAgger-style), so the examples also cover states an imperfect policy reaches. Each step where the
teacher acts gives one example, its target ``format_action(action)``. Used by SFT and by the tiny
model's tokenizer corpus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from agentgym.core import plugins
from agentgym.core.policy import Generation, SamplingParams
from agentgym.core.types import Messages
from agentgym.rollout.collect import collect
from agentgym.rollout.episode import EpisodeSettings
from agentgym.rollout.pool import make_pool
from agentgym.rollout.prompts import format_action, parse_action

TEACHER_TEMPERATURE = 0.0  # what temperature=None means for SFT: a model teacher decodes greedily
NO_ACTION = "(no action)"  # what the explorer says where there is neither an expert nor an admissible list


@dataclass
class Example:
    messages: Messages
    response: str


class TeacherExplorer:
    """The teacher's action, or with probability ``explore`` a random admissible one (one generator for all).

    The teacher is any policy (``expert``, a ``heuristic`` rule); an empty action from it (no expert here)
    is replaced by a random admissible action."""

    def __init__(self, teacher: Any, explore: float, rng: np.random.Generator):
        self.teacher, self.explore, self.rng = teacher, explore, rng
        self.info_keys = tuple(getattr(teacher, "info_keys", ()))

    def generate(self, prompts: list[Messages], sampling: SamplingParams | None = None,
                 infos: list[dict[str, Any]] | None = None) -> list[Generation]:
        infos = infos or [{} for _ in prompts]
        out = []
        for action, info in zip(teacher_actions(self.teacher, prompts, infos, sampling), infos):
            admissible = info.get("admissible_actions")
            if admissible and (action is None or self.rng.random() < self.explore):
                action = str(admissible[int(self.rng.integers(len(admissible)))])
            out.append(Generation(text=format_action(action if action is not None else NO_ACTION)))
        return out


def teacher_actions(teacher: Any, prompts: list[Messages], infos: list[dict[str, Any]],
                    sampling: SamplingParams | None = None) -> list[str | None]:
    """The teacher's parsed action per prompt (greedy unless ``sampling`` says otherwise); None where it gave none."""
    sampling = sampling or SamplingParams(greedy=True, temperature=0.0)
    return [parse_action(g.text) for g in teacher.generate(prompts, sampling, infos=infos)]


def collect_examples(episode: EpisodeSettings, episodes: int, seed: int = 0, explore: float = 0.0,
                     split: str = "train", teacher: str = "expert", progress: bool = False) -> list[Example]:
    """(prompt, teacher response) for every step of ``episodes`` episodes of ``episode.env`` where the teacher
    gives an action, with the prompts ``episode`` describes (history, admissible actions, prompt budget).

    ``teacher`` is a policy spec: ``expert`` (``info["expert_action"]``) or ``heuristic`` (the
    environment's hand-written rule, which sees only the prompt, so a policy can imitate it exactly).
    Episode k resets with ``seed + k``; episodes run one after another so the explorer's random
    draws, and with them the examples, depend only on ``seed``. ``progress``: a bar over the episodes
    (collection on a slow engine, e.g. 1,000 ALFWorld episodes, takes minutes).
    """
    labeller = plugins.policy_from_spec(teacher, env_id=episode.env)
    sampling = episode.sampling(unset_temperature=TEACHER_TEMPERATURE)  # a model teacher: the episode's budget
    policy = TeacherExplorer(labeller, explore, np.random.default_rng(seed))
    pool = make_pool(episode.env, split, 1, episode.env_kwargs, episode.max_steps, backend="thread")
    examples = []
    try:
        for k in tqdm(range(episodes), desc="teacher episodes", disable=not progress, dynamic_ncols=True):
            trajectories, _ = collect(pool, policy, [{"seed": seed + k}], 1, sampling, episode,
                                      info_keys=policy.info_keys)
            steps = [s for traj in trajectories for s in traj.steps]
            labels = teacher_actions(labeller, [s.prompt for s in steps], [s.info for s in steps], sampling)
            examples.extend(Example(s.prompt, format_action(label)) for s, label in zip(steps, labels)
                            if label is not None)
    finally:
        pool.close()
    return examples
