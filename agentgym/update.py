"""The policy update: PPO epochs over mini-batches, gradient accumulation over micro-batches.

Advantages arrive one per step (computed on the unpadded batch) and are broadcast to every token of
the step's response here. Loss aggregation is global over a mini-batch: each micro-batch's loss is
weighted by its share of the mini-batch's tokens (token-mean) or sequences (seq-mean modes).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch

from agentgym import epo, losses


@dataclass
class UpdateSample:
    """One step's response as the update sees it."""

    prompt_ids: list[int]
    response_ids: list[int]
    old_logprobs: list[float]
    advantage: float
    ref_logprobs: list[float] | None = None
    traj_id: int = 0  # EPO averages entropy per trajectory


@dataclass
class UpdateSettings:
    ppo_epochs: int = 1
    mini_batch_size: int = 512
    micro_batch_size: int = 128
    clip_low: float = 0.2
    clip_high: float = 0.2
    dual_clip: float | None = 3.0
    loss_agg: str = "token-mean"
    kl_coef: float = 0.0
    kl_kind: str = "low_var_kl"
    entropy_coef: float = 0.0
    max_grad_norm: float = 1.0


def score_no_grad(policy, samples: list[UpdateSample], micro_batch_size: int) -> list[list[float]]:
    """Teacher-forced log-probs of each sample's response, without gradients."""
    out: list[list[float]] = []
    with torch.no_grad():
        for start in range(0, len(samples), micro_batch_size):
            chunk = samples[start:start + micro_batch_size]
            logprobs, _, mask = policy.score([s.prompt_ids for s in chunk], [s.response_ids for s in chunk])
            lengths = mask.sum(dim=1).long().tolist()
            out.extend(row[:n].tolist() for row, n in zip(logprobs, lengths))
    return out


def ppo_update(policy, optimizer: torch.optim.Optimizer, samples: list[UpdateSample], settings: UpdateSettings,
               generator: torch.Generator, regularizer: epo.EPORegularizer | None = None,
               iteration: int = 0) -> dict[str, float]:
    """Run ``ppo_epochs`` passes over ``samples``; returns mean loss metrics and the gradient norm.

    ``regularizer`` (EPO) adds its entropy term for training iteration ``iteration``.
    """
    samples = [s for s in samples if s.response_ids]
    totals: dict[str, list[float]] = defaultdict(list)
    # the model stays in eval mode: no dropout, so update log-probs match the rollout's exactly
    for _ in range(settings.ppo_epochs):
        order = torch.randperm(len(samples), generator=generator).tolist()
        for start in range(0, len(order), settings.mini_batch_size):
            mini = [samples[i] for i in order[start:start + settings.mini_batch_size]]
            metrics = _mini_batch_step(policy, optimizer, mini, settings, regularizer, iteration)
            for key, value in metrics.items():
                totals[key].append(value)
    return {key: float(np.mean(values)) for key, values in totals.items()}


def _mini_batch_step(policy, optimizer, mini: list[UpdateSample], settings: UpdateSettings,
                     regularizer: epo.EPORegularizer | None, iteration: int) -> dict[str, float]:
    optimizer.zero_grad(set_to_none=True)
    total_tokens = sum(len(s.response_ids) for s in mini)
    sums: dict[str, float] = defaultdict(float)
    row_weights = None
    if regularizer is not None:  # trajectory weights over the whole mini-batch: micro terms add up exactly
        has_tokens = torch.tensor([len(s.response_ids) > 0 for s in mini])
        row_weights = epo.trajectory_row_weights([s.traj_id for s in mini], has_tokens)
    for start in range(0, len(mini), settings.micro_batch_size):
        end = start + settings.micro_batch_size
        micro = mini[start:end]
        tokens = sum(len(s.response_ids) for s in micro)
        weight = tokens / total_tokens if settings.loss_agg == "token-mean" else len(micro) / len(mini)
        loss, entropies, mask, metrics = _micro_batch_loss(policy, micro, settings, regularizer is not None)
        loss = loss * weight
        for key, value in metrics.items():
            sums[key] += value * weight
        if regularizer is not None:  # sign and coefficient are inside the term; no micro weight
            term, epo_metrics = regularizer(entropies, mask, [s.traj_id for s in micro], iteration,
                                            row_weights=row_weights[start:end].to(mask.device))
            loss = loss + term
            for key, value in epo_metrics.items():
                sums[key] = value if key in ("loss/epo_beta", "loss/epo_reference") else sums[key] + value
        loss.backward()
    params = [p for p in policy.model.parameters() if p.requires_grad]
    grad_norm = torch.nn.utils.clip_grad_norm_(params, settings.max_grad_norm)
    optimizer.step()
    sums["loss/grad_norm"] = float(grad_norm)
    return dict(sums)


def _padded(rows: list[list[float]], width: int) -> torch.Tensor:
    out = torch.zeros(len(rows), width)  # (B, T)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row[:width], dtype=torch.float32)
    return out


def _micro_batch_loss(policy, micro: list[UpdateSample], settings: UpdateSettings, need_entropy: bool = False):
    want_entropy = settings.entropy_coef != 0.0 or need_entropy
    logprobs, entropies, mask = policy.score([s.prompt_ids for s in micro], [s.response_ids for s in micro],
                                             with_entropy=want_entropy)  # each (B, T)
    width = logprobs.shape[1]
    device = logprobs.device
    old = _padded([s.old_logprobs for s in micro], width).to(device)
    adv = torch.tensor([s.advantage for s in micro], dtype=torch.float32, device=device)[:, None] * mask  # (B, T)
    loss, metrics = losses.ppo_policy_loss(logprobs, old, adv, mask, clip_low=settings.clip_low,
                                           clip_high=settings.clip_high, dual_clip=settings.dual_clip,
                                           agg=settings.loss_agg)
    metrics = {k: float(v) for k, v in metrics.items()}
    if settings.kl_coef > 0:
        ref = _padded([s.ref_logprobs or [] for s in micro], width).to(device)
        kl = losses.aggregate(losses.kl_penalty(logprobs, ref, kind=settings.kl_kind), mask, settings.loss_agg)
        loss = loss + settings.kl_coef * kl
        metrics["loss/kl"] = float(kl.detach())
    if want_entropy:
        bonus = losses.entropy_bonus(entropies, mask, settings.loss_agg)
        loss = loss - settings.entropy_coef * bonus
        metrics["loss/entropy"] = float(bonus.detach())
    metrics["loss/total"] = float(loss.detach())
    return loss, entropies, mask, metrics
