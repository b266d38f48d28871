"""Supervised fine-tuning on expert trajectories: ``python -m agentgym.sft --env ID --teacher-episodes N --out DIR``.

The examples (``agentgym.sft.data``) use the very prompts the RL rollout shows; the target is the
expert's formatted action plus EOS, and the loss covers response tokens only. Tasks come from the
"train" split. Models are found through the ``agentgym.policies`` entry points (``plugins``), so this
core module names no policy backend.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from agentgym.core import plugins
from agentgym.core.model_settings import ModelTrainingSettings
from agentgym.core.registry import spec
from agentgym.rollout.episode import EpisodeSettings
from agentgym.sft.data import TEACHER_TEMPERATURE, Example, collect_examples
from agentgym.util import console
from agentgym.util.cli_errors import check_model_path, one_line_errors
from agentgym.util.cli_options import add_options, add_renamed_options, rename_given
from agentgym.util.params import check_at_least

PROG = "python -m agentgym.sft"
SFT_LR = 3e-3  # what lr=None means for SFT
DEPRECATED = {"episodes": "teacher_episodes", "batch_size": "examples_per_step"}  # renamed in 0.2


@dataclass(kw_only=True)
class SFTSettings:
    """fine-tuning: the teacher's episodes and the schedule (also the tiny model's warm start)"""

    teacher_episodes: int = 300
    """Teacher episodes on the train split whose steps become examples."""
    teacher: str = "expert"
    """Whose actions are imitated: expert (info['expert_action']) | heuristic (the environment's hand-written rule,
    which sees only the prompt) | any policy spec."""
    explore: float = 0.25
    """Probability that a random admissible action drives the episode (the label stays the expert's)."""
    steps: int | None = 150
    """Optimizer steps; None = `epochs` passes over the examples."""
    epochs: int = 1
    """Passes over the examples when steps is None."""
    examples_per_step: int = 32
    """Examples per optimizer step."""
    examples_per_pass: int = 8
    """Examples per forward/backward pass (gradients accumulate up to examples_per_step; the same step, less memory:
    16 SQL-v0 examples in one pass held 10.6 GB on SmolLM2)."""
    warmup: int = 10
    """Warm-up steps (linear), then cosine decay to 10% of lr."""


@dataclass(kw_only=True)
class SFTConfig(EpisodeSettings, SFTSettings, ModelTrainingSettings):
    """output: where the fine-tuned model is saved

    The episode fields are the trainer's ``EpisodeSettings``, so the examples show the very prompts RL will.
    """

    out: str = "runs/sft"
    """Folder the fine-tuned model is saved to."""
    verbose: bool = True
    """Show a progress bar and the first and last loss."""

    def __post_init__(self) -> None:
        if self.temperature is None:
            self.temperature = TEACHER_TEMPERATURE
        self.resolve_model_training(SFT_LR)
        self.check_episode_settings()
        check_at_least(self, (("teacher_episodes", 1), ("epochs", 1), ("examples_per_step", 1), ("examples_per_pass", 1),
                               ("warmup", 0)))
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be >= 1 (or None: epochs passes), got {self.steps}")
        if not 0 <= self.explore <= 1:
            raise ValueError(f"explore must be in [0, 1], got {self.explore}")

    def recipe(self) -> dict[str, Any]:
        """What decides the fine-tuned weights besides the environment and the model (the tiny model's
        cache key), under the names the key has always used."""
        return {"episodes": self.teacher_episodes, "teacher": self.teacher, "explore": self.explore,
                "steps": self.steps, "epochs": self.epochs, "batch_size": self.examples_per_step, "lr": self.lr,
                "warmup": self.warmup, "weight_decay": self.weight_decay, "max_grad_norm": self.max_grad_norm,
                "seed": self.seed}


def _lr_at(step: int, total: int, cfg: SFTConfig) -> float:
    """Linear warm-up then cosine decay to 10%."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, total - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


@dataclass
class SFTCurve:
    """Per optimizer step, before its update: the mean response-token NLL, and the share of the step's examples
    whose whole target response has probability below 0.5 (``unsure``).

    Why both: the token mean is dominated by format tokens the model learns at once, and can be near zero while
    the one token that decides (the action) is a coin flip on a quarter of the examples. An example with
    P(response) > 0.5 is one greedy decoding reproduces exactly (every token then has p > 0.5, so it is the argmax);
    ``unsure`` counts the rest."""

    losses: list[float]
    unsure: list[float]

    def tail(self) -> int:
        """Steps the final unsure share averages over: the last tenth (a step's share, over a few examples, is
        noisy)."""
        return max(1, len(self.unsure) // 10)

    def final_unsure(self) -> float:
        return float(np.mean(self.unsure[-self.tail():]))


def train(policy, examples: list[Example], cfg: SFTConfig, verbose: bool = True) -> SFTCurve:
    """Minimise the mean response-token NLL with AdamW; returns the loss and unsure share of every step.

    ``verbose``: an ``sft`` progress bar with the running loss, then one ``[sft]`` line with the
    first and last loss and unsure share."""
    import torch

    prompt_ids = policy.encode_prompts([e.messages for e in examples])
    response_ids = [policy.encode_response(e.response) for e in examples]
    rng = np.random.default_rng(cfg.seed)
    total = cfg.steps or max(1, cfg.epochs * math.ceil(len(examples) / cfg.examples_per_step))
    params = [p for p in policy.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.95))
    order: list[int] = []
    curve = SFTCurve([], [])
    policy.model.train()
    start = time.perf_counter()
    bar = tqdm(range(total), desc="sft", disable=not verbose, dynamic_ncols=True)
    for step in bar:
        if len(order) < cfg.examples_per_step:
            order += rng.permutation(len(examples)).tolist()
        mb, order = order[:cfg.examples_per_step], order[cfg.examples_per_step:]
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, total, cfg)
        optimizer.zero_grad(set_to_none=True)
        loss, response_logps = _accumulate(policy, [prompt_ids[i] for i in mb], [response_ids[i] for i in mb],
                                           cfg.examples_per_pass)
        curve.losses.append(loss)
        curve.unsure.append(float(np.mean(np.asarray(response_logps) < math.log(0.5))))
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        optimizer.step()
        bar.set_postfix(loss=f"{loss:.4f}", unsure=f"{curve.unsure[-1]:.2f}", refresh=False)
    bar.close()
    policy.model.eval()
    if verbose:
        console.phase("sft", f"{total} steps on {len(examples)} examples, loss {curve.losses[0]:.4f} -> "
                             f"{curve.losses[-1]:.4f}, unsure {curve.unsure[0]:.2f} -> {curve.final_unsure():.2f} "
                             f"(share of a step's examples with P(response) < 0.5; the last {curve.tail()} steps) "
                             f"({time.perf_counter() - start:.0f} s)")
    return curve


def _accumulate(policy, prompts: list[list[int]], responses: list[list[int]],
                examples_per_pass: int) -> tuple[float, list[float]]:
    """Backward of the mean response-token NLL over all the examples, one micro-batch of similar lengths at a
    time (each weighted by its share of the tokens, so the gradient is the whole batch's); returns that mean and
    each example's summed response log-prob (in the order given)."""
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]) + len(responses[i]))  # less padding
    tokens = sum(len(r) for r in responses)
    total = 0.0
    response_logps = [0.0] * len(prompts)
    for start in range(0, len(order), examples_per_pass):
        rows = order[start:start + examples_per_pass]
        logp, _, mask = policy.score([prompts[i] for i in rows], [responses[i] for i in rows])
        loss = -(logp * mask).sum() / tokens
        loss.backward()
        total += float(loss.detach())
        for row, value in zip(rows, (logp * mask).sum(-1).tolist()):
            response_logps[row] = value
    return total, response_logps


def greedy_success(policy, split: str, episodes: int, episode: EpisodeSettings) -> float:
    """Share of the split's first ``episodes`` tasks of ``episode.env`` solved by greedy decoding (the trainer's
    held-out check)."""
    from agentgym.eval.held_out import evaluate
    from agentgym.rollout.pool import make_pool

    pool = make_pool(episode.env, split, min(episodes, 64), episode.env_kwargs, episode.max_steps)
    try:
        result = evaluate(policy, pool, split, episodes, episode)
    finally:
        pool.close()
    return result.metrics("")["success_rate"]


def run_sft(cfg: SFTConfig) -> dict[str, Any]:
    """Build/load the model, collect expert examples on the train split, fine-tune, save to ``cfg.out``."""
    import torch

    torch.manual_seed(cfg.seed)
    model_path = (plugins.load(plugins.POLICIES, "resolve_model")(cfg.model) if cfg.model else
                  str(plugins.load(plugins.POLICIES, "build_model")(cfg.out, cfg.env)))
    policy = plugins.policy_from_spec(model_path, device="cpu" if not torch.cuda.is_available() else None,
                                      dtype=cfg.model_dtype, lora=cfg.lora())
    examples = collect_examples(cfg, cfg.teacher_episodes, seed=cfg.seed, explore=cfg.explore, teacher=cfg.teacher,
                                progress=cfg.verbose)
    if not examples:
        raise ValueError(f"the {cfg.teacher!r} teacher gave no actions on {cfg.env}; SFT needs a teacher that acts "
                         "(the expert needs an environment with info['expert_action'])")
    if cfg.verbose:
        console.phase("sft", f"warm start of {model_path} on {len(examples)} {cfg.teacher} steps of {cfg.env} "
                             "(train split)")
    curve = train(policy, examples, cfg, verbose=cfg.verbose)
    policy.save_merged(cfg.out)  # under LoRA: a plain folder, the base of RL's own adapters and KL reference
    return {"examples": len(examples), "steps": len(curve.losses), "first_loss": curve.losses[0],
            "final_loss": curve.losses[-1], "first_unsure": curve.unsure[0], "final_unsure": curve.final_unsure()}


def parse_args(argv: list[str] | None = None) -> SFTConfig:
    parser = argparse.ArgumentParser(prog=PROG, description="Supervised fine-tuning of a policy on an "
                                     "environment's expert trajectories (the trainer's warm start).")
    add_options(parser, SFTConfig, grouped=True)
    add_renamed_options(parser, SFTConfig, DEPRECATED)
    return SFTConfig(**rename_given(vars(parser.parse_args(argv)), DEPRECATED))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    with one_line_errors(PROG):  # a bad setting, an unknown environment or a model path that is not there
        cfg = parse_args(argv)
        spec(cfg.env)
        check_model_path("--model", cfg.model)
    with one_line_errors(PROG, "cannot fine-tune: "):  # a model or teacher that cannot load, a teacher that never acts
        stats = run_sft(cfg)
    print(f"saved {cfg.out}: {stats}")
    return stats

