"""IGPO's belief (arXiv 2510.14967) as a trainer feature: how much each turn raised the policy's
probability of the gold answer, in the ``info_gain`` column that ``credit=igpo`` reads.

The belief on a prompt is the geometric-mean probability of the gold answer's tokens, teacher-forced
after the prompt and the part of the answer template before ``{answer}``:

    p = exp( (1/L) sum_j log pi(a_j | prompt, template prefix, a_<j) )

Step i's prompt holds the observation that followed action i - 1, so p_i, measured on it, is the
belief before turn i. By default (``igpo_history: full``) that prompt is rebuilt with every earlier step of the
episode (``history.full_history_prompt``), not only the rollout's window of the last ``history_len`` steps, so
evidence leaving the window is not scored as a loss of belief; p_0 is measured on the first prompt, before any turn, and the belief after turn
i is p_{i+1}. The column is info_gain_i = p_{i+1} - p_i for i < T - 1 and 0.0 on the final step, whose
outcome reward (already in ``reward``) pays it. The trained policy scores the beliefs, without
gradients, one extra forward pass per step, micro-batched by ``micro_batch_size``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from agentgym.core.registry import make
from agentgym.train.features.base import SetupContext, TrainerFeature
from agentgym.train.features.igpo.history import full_history_prompt
from agentgym.train.update import score_no_grad

# what the SFT'd policy emits to submit: prompts.format_action around tools.protocol.format_call(SUBMIT, answer=...)
SUBMIT_TEMPLATE = ('<action><tool_call>{"name": "submit_answer", "arguments": {"answer": "{answer}"}}'
                   "</tool_call></action>")
PLACEHOLDER = "{answer}"
ESCAPES = ("auto", "json", "none")
HISTORIES = ("full", "prompt")
GOLD_ANSWER_ENVS = "agentgym/SearchQA-v0 and agentgym/SQL-v0"


@dataclass(frozen=True)
class BeliefSettings:
    """igpo: how IGPO's belief reads the gold answer after the prompt (credit=igpo)"""

    answer_template: str = SUBMIT_TEMPLATE
    """The response that submits the answer, {answer} standing for it (once): the text before it joins the
    prompt, the answer's tokens are the scored ones, the text after is unused."""
    escape: str = "auto"
    """How the answer is written: json (as inside a JSON string, as the default template's tool call) | none (as
    it is, e.g. for <answer>{answer}</answer>) | auto (json for the default template, none for any other)."""
    history: str = "full"
    """What each belief prompt shows: full (every earlier step of the episode) | prompt (the step's own prompt,
    the rollout's window of the last history_len steps, as the released code scores it)."""

    def __post_init__(self) -> None:
        if self.answer_template.count(PLACEHOLDER) != 1:
            raise ValueError(f"igpo_answer_template must hold {PLACEHOLDER} exactly once, got "
                             f"{self.answer_template!r}")
        if self.history not in HISTORIES:
            raise ValueError(f"igpo_history={self.history!r} is not one of {', '.join(map(repr, HISTORIES))}")
        if self.escape not in ESCAPES:
            raise ValueError(f"igpo_escape={self.escape!r} is not one of {', '.join(map(repr, ESCAPES))}")

    def answer_text(self, answer: str) -> str:
        """The answer as the template's response spells it."""
        as_json = self.escape == "json" or (self.escape == "auto" and self.answer_template == SUBMIT_TEMPLATE)
        return json.dumps(answer, ensure_ascii=False)[1:-1] if as_json else answer


def require_gold_answer(env_id: str, env_kwargs: dict, seed: int = 0) -> None:
    """Refuse an environment whose ``info["answer"]`` is None (checked on one reset of its train split)."""
    env = make(env_id, split="train", **env_kwargs)
    try:
        _, info = env.reset(seed=seed)
        answer = info.get("answer")
    finally:
        env.close()
    if not answer:
        raise ValueError(f"credit=igpo needs the gold answer in info['answer'], and {env_id} gives none; "
                         f"{GOLD_ANSWER_ENVS} provide it (ToolEnv.gold_answer)")


@dataclass(frozen=True)
class Beliefs:
    """Per trajectory, the belief on each step's prompt, shape (T,); how many contexts were cut to fit."""

    per_trajectory: list[np.ndarray]
    prompts_cut: int
    prompts_extended: int = 0  # step prompts rebuilt with history the rollout's window had dropped
    prompts_not_rebuilt: int = 0  # step prompts that could not be reproduced, scored as recorded


class IGPOBelief(TrainerFeature):
    """Built when ``credit=igpo``: the ``info_gain`` column from beliefs on every step's prompt.

    A prompt whose context (prompt, template prefix, answer) is longer than the model's
    ``context_length`` is cut from the left, keeping its end (the latest observation and the generation
    prompt), and counted in ``igpo/belief_prompts_cut``; an answer that alone does not fit is an error.
    Every rank scores the whole gathered batch (the same forward passes, in lockstep under fsdp), so
    each computes the same column: correct at any world size, the work repeated per rank.
    """

    name = "igpo"
    settings = BeliefSettings
    info_keys = ("answer",)
    data_parallel = True

    def __init__(self, policy, settings: BeliefSettings, micro_batch_size: int):
        self.policy, self.settings, self.micro_batch_size = policy, settings, micro_batch_size
        self._tokens: dict[str, tuple[list[int], list[int]]] = {}  # answer -> (prefix ids, answer ids)

    @classmethod
    def check_config(cls, config, settings: BeliefSettings) -> None:
        if config.credit != "igpo":
            if settings != BeliefSettings():
                raise ValueError(f"igpo_* settings are set but credit={config.credit!r}: they are read only with "
                                 "credit=igpo")
            return
        require_gold_answer(config.env, config.env_kwargs, config.seed)

    @classmethod
    def from_config(cls, config, settings: BeliefSettings, context: SetupContext) -> IGPOBelief | None:
        if config.credit != "igpo":
            return None
        return cls(context.policy, settings, config.micro_batch_size)

    def annotate(self, trajectories, batch):
        tick = time.perf_counter()
        beliefs = self.beliefs(trajectories)
        gains = [np.append(np.diff(p), 0.0) if len(p) else p for p in beliefs.per_trajectory]
        column = np.concatenate(gains) if gains else np.zeros(0)
        metrics = {"time/igpo_belief_s": time.perf_counter() - tick,
                   "igpo/belief_prompts_cut": float(beliefs.prompts_cut),
                   "igpo/belief_prompts_extended": float(beliefs.prompts_extended),
                   "igpo/belief_prompts_not_rebuilt": float(beliefs.prompts_not_rebuilt)}
        if len(column):
            turns = np.concatenate([g[:-1] for g in gains])  # the steps that have an information gain
            metrics.update({
                "igpo/belief_start_mean": float(np.mean([p[0] for p in beliefs.per_trajectory if len(p)])),
                "igpo/belief_mean": float(np.concatenate(beliefs.per_trajectory).mean()),
                "igpo/info_gain_mean": float(turns.mean()) if len(turns) else 0.0,
                "igpo/info_gain_abs_mean": float(np.abs(turns).mean()) if len(turns) else 0.0,
            })
        return batch.with_extras(info_gain=column), metrics

    def beliefs(self, trajectories) -> Beliefs:
        """p_i of every step of every trajectory (step order), scored in micro-batches of similar lengths."""
        prompts, prefixes, targets, lengths, rebuilt = [], [], [], [], []
        not_rebuilt = 0
        for traj in trajectories:
            for i, step in enumerate(traj.steps):
                answer = step.info.get("answer")
                if not answer:
                    raise ValueError(f"task {traj.task_id!r}: step {step.t} has no info['answer']; credit=igpo "
                                     f"needs the gold answer ({GOLD_ANSWER_ENVS} give it)")
                if not step.prompt_ids:
                    raise ValueError("credit=igpo scores beliefs on each step's prompt_ids, and a step has none "
                                     "(a scripted policy's rollout?)")
                prefix, target = self._answer_tokens(answer)
                if self.settings.history == "full":
                    messages, reproduced = full_history_prompt(traj, i)
                    not_rebuilt += not reproduced
                    if messages is not None:
                        rebuilt.append((len(prompts), messages))
                prompts.append(step.prompt_ids)
                prefixes.append(prefix)
                targets.append(target)
            lengths.append(len(traj.steps))
        if rebuilt:  # one tokenizer call for every extended prompt
            for (row, _), ids in zip(rebuilt, self.policy.encode_prompts([m for _, m in rebuilt])):
                prompts[row] = ids
        contexts = [[*p, *prefix] for p, prefix in zip(prompts, prefixes)]
        contexts, cut = self._fit(contexts, targets)
        values = self._score(contexts, targets)
        bounds = np.cumsum([0, *lengths])
        return Beliefs([values[a:b] for a, b in zip(bounds[:-1], bounds[1:])], cut, len(rebuilt), not_rebuilt)

    def _answer_tokens(self, answer: str) -> tuple[list[int], list[int]]:
        """(ids that join the prompt, ids scored): the template prefix and the answer tokenised together, as
        the policy emits them; a token merging across the boundary counts as the answer's."""
        if answer not in self._tokens:
            prefix_text = self.settings.answer_template.split(PLACEHOLDER)[0]
            head = self.policy.encode_response(prefix_text, add_eos=False)
            full = self.policy.encode_response(prefix_text + self.settings.answer_text(answer), add_eos=False)
            shared = next((i for i, (a, b) in enumerate(zip(head, full)) if a != b), min(len(head), len(full)))
            self._tokens[answer] = (full[:shared], full[shared:])
        return self._tokens[answer]

    def _fit(self, contexts: list[list[int]], targets: list[list[int]]) -> tuple[list[list[int]], int]:
        """Contexts cut from the left to fit the model's context with their target; how many were cut."""
        limit = getattr(self.policy, "context_length", None)
        if limit is None:
            return contexts, 0
        out, cut = [], 0
        for context, target in zip(contexts, targets):
            room = limit - len(target)
            if room < 1:
                raise ValueError(f"the gold answer takes {len(target)} tokens, more than the model's context "
                                 f"({limit}) leaves for a prompt")
            cut += len(context) > room
            out.append(context[-room:])
        return out, cut

    def _score(self, contexts: list[list[int]], targets: list[list[int]]) -> np.ndarray:
        """exp(mean token log-prob of each target after its context), shape (len(contexts),); scored in order of
        length, so each micro-batch pads little."""
        order = np.argsort([len(c) + len(t) for c, t in zip(contexts, targets)], kind="stable")
        pairs = [SimpleNamespace(prompt_ids=contexts[i], response_ids=targets[i]) for i in order]
        values = np.zeros(len(contexts))
        values[order] = [np.exp(np.mean(row)) for row in score_no_grad(self.policy, pairs, self.micro_batch_size)]
        return values
