"""Supervised fine-tuning on expert trajectories: ``python -m agentgym.sft --env ID --episodes N --out DIR``.

The examples are built with the very prompts the RL rollout shows
(``agentgym.prompts.build_messages`` with ``HistoryItem(action, next observation)``, the environment's history length)
and the target is ``format_action(info["expert_action"])`` plus EOS; the loss covers response
tokens only. ``explore > 0`` lets a random admissible action drive the episode with that
probability while the label stays the expert's (DAgger-style), so the model also sees states an
imperfect policy reaches. Tasks come from the "train" split.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agentgym.prompts import HistoryItem, build_messages, format_action
from agentgym.types import Messages


@dataclass
class Example:
    messages: Messages
    response: str


@dataclass
class SFTConfig:
    env: str = "agentgym/FrozenLake-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    model: str | None = None  # model folder; None = a freshly built tiny model for `env`
    out: str = "runs/sft"
    episodes: int = 300  # as policies.tiny.WarmStart
    explore: float = 0.25
    history_len: int | None = None  # None = the environment's prompt_history_len (as the trainer)
    steps: int | None = 150  # optimizer steps; None = `epochs` passes over the examples
    epochs: int = 1
    batch_size: int = 32
    lr: float = 3e-3
    warmup: int = 10
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0
    verbose: bool = True


def collect_examples(env_id: str, episodes: int, seed: int = 0, explore: float = 0.0, split: str = "train",
                     history_len: int | None = None, env_kwargs: dict[str, Any] | None = None) -> list[Example]:
    """(prompt, expert response) for every step of ``episodes`` episodes that has an expert action."""
    import agentgym

    history_len = agentgym.prompt_history_len(env_id, history_len)
    env = agentgym.make(env_id, split=split, **(env_kwargs or {}))
    rng = np.random.default_rng(seed)
    examples = []
    try:
        for episode in range(episodes):
            obs, info = env.reset(seed=seed + episode)
            history: list[HistoryItem] = []
            done = False
            while not done:
                expert = info.get("expert_action")
                admissible = info.get("admissible_actions")
                if expert is not None:
                    messages = build_messages(info.get("task"), obs, history, admissible, history_len)
                    examples.append(Example(messages, format_action(expert)))
                action = expert
                if admissible and (expert is None or rng.random() < explore):
                    action = str(admissible[int(rng.integers(len(admissible)))])
                if action is None:
                    break
                obs, _, terminated, truncated, info = env.step(action)
                history.append(HistoryItem(action, obs))
                done = terminated or truncated
    finally:
        env.close()
    return examples


def _lr_at(step: int, total: int, cfg: SFTConfig) -> float:
    """Linear warm-up then cosine decay to 10%."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, total - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train(policy, examples: list[Example], cfg: SFTConfig) -> list[float]:
    """Minimise the mean response-token NLL with AdamW; returns the loss of every step."""
    import torch

    prompt_ids = policy.encode_prompts([e.messages for e in examples])
    response_ids = [policy.encode_response(e.response) for e in examples]
    rng = np.random.default_rng(cfg.seed)
    total = cfg.steps or max(1, cfg.epochs * math.ceil(len(examples) / cfg.batch_size))
    params = [p for p in policy.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.95))
    order: list[int] = []
    losses = []
    policy.model.train()
    start = time.perf_counter()
    for step in range(total):
        if len(order) < cfg.batch_size:
            order += rng.permutation(len(examples)).tolist()
        mb, order = order[:cfg.batch_size], order[cfg.batch_size:]
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, total, cfg)
        logp, _, mask = policy.score([prompt_ids[i] for i in mb], [response_ids[i] for i in mb])
        loss = -(logp * mask).sum() / mask.sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        optimizer.step()
        losses.append(float(loss.detach()))
        if cfg.verbose and (step % 20 == 0 or step == total - 1):
            print(f"sft step {step + 1}/{total}  loss {loss.item():.4f}  {time.perf_counter() - start:.0f}s",
                  flush=True)
    policy.model.eval()
    return losses


def greedy_success(policy, env_id: str, split: str, episodes: int, history_len: int | None = None,
                   max_new_tokens: int = 16, env_kwargs: dict[str, Any] | None = None) -> float:
    """Share of the split's first ``episodes`` tasks solved by greedy decoding (the trainer's evaluation)."""
    from agentgym.evaluation import evaluate
    from agentgym.policy import SamplingParams
    from agentgym.rollout import EnvPool, PromptConfig

    pool = EnvPool(env_id, split, min(episodes, 64), env_kwargs)
    try:
        result = evaluate(policy, pool, split, episodes, SamplingParams(greedy=True, temperature=0.0,
                                                                        max_new_tokens=max_new_tokens),
                          PromptConfig(history_len=history_len))  # None: the environment's own
    finally:
        pool.close()
    return result.metrics("")["success_rate"]


def run_sft(cfg: SFTConfig) -> dict[str, Any]:
    """Build/load the model, collect expert examples on the train split, fine-tune, save to ``cfg.out``."""
    import torch

    from policies.hf import HFPolicy
    from policies.tiny import build_tiny_model

    torch.manual_seed(cfg.seed)
    model_path = cfg.model or str(build_tiny_model(cfg.out, cfg.env))
    policy = HFPolicy.from_pretrained(model_path, device="cpu" if not torch.cuda.is_available() else None)
    examples = collect_examples(cfg.env, cfg.episodes, seed=cfg.seed, explore=cfg.explore,
                                history_len=cfg.history_len, env_kwargs=cfg.env_kwargs)
    if not examples:
        raise ValueError(f"{cfg.env} gave no expert actions; SFT needs an environment with info['expert_action']")
    losses = train(policy, examples, cfg)
    policy.save(cfg.out)
    return {"examples": len(examples), "steps": len(losses), "first_loss": losses[0], "final_loss": losses[-1]}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    defaults = SFTConfig()
    parser.add_argument("--env", default=defaults.env)
    parser.add_argument("--model", default=None, help="model folder (default: build a tiny model for --env)")
    parser.add_argument("--out", default=defaults.out)
    parser.add_argument("--episodes", type=int, default=defaults.episodes)
    parser.add_argument("--explore", type=float, default=defaults.explore)
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    cfg = SFTConfig(env=args.env, model=args.model, out=args.out, episodes=args.episodes, explore=args.explore,
                    steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    stats = run_sft(cfg)
    print(f"saved {cfg.out}: {stats}")
    return stats


if __name__ == "__main__":
    main()
