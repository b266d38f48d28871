"""The policy update: PPO epochs over mini-batches, gradient accumulation over micro-batches.

Advantages arrive one per step (computed on the unpadded batch) and are broadcast to every token of
the step's response here. Loss aggregation is global over a mini-batch: each micro-batch's loss is
weighted by its share of the mini-batch's tokens (token-mean) or sequences (seq-mean modes).
Trainer features add terms of their own (``LossTerm``, e.g. EPO) without this file knowing them.
Under data parallelism (``agentgym.train.data_parallel``) each rank runs its rows of every mini-batch
with the same global weights, and the all-reduced gradient equals the single-process one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch

from agentgym.inference.distinct_pairs import distinct_rows, score_distinct, score_distinct_no_grad
from agentgym.inference.rescore import logprob_gaps
from agentgym.train import losses
from agentgym.train.data_parallel import DataParallel
from agentgym.train.distributed import reduce_metrics, sum_metrics

if TYPE_CHECKING:  # annotation only: the update reads UpdateSettings fields and max_grad_norm
    from agentgym.train.config import TrainConfig


@dataclass
class UpdateSample:
    """One step's response as the update sees it."""

    prompt_ids: list[int]
    response_ids: list[int]
    old_logprobs: list[float] | None  # None: the update's own first forward, detached (one optimizer step only)
    advantage: float
    ref_logprobs: list[float] | None = None
    traj_id: int = 0  # EPO averages entropy per trajectory
    rollout_logprobs: list[float] | None = None  # the generation engine's, when the trainer rescored (TIS)


class LossTerm(Protocol):
    """An extra term of the policy loss, added to every micro-batch's loss before ``backward``.

    The term sees the whole mini-batch first (so it can weigh rows over all of it and make the
    micro-batch pieces add up exactly) and reports its metrics once the mini-batch is done.
    """

    needs_entropy: bool  # the update computes token entropies for it

    def start_mini_batch(self, mini: list[UpdateSample], iteration: int) -> None: ...

    def __call__(self, entropies: torch.Tensor, mask: torch.Tensor, rows: slice) -> torch.Tensor:
        """The term for the micro-batch ``mini[rows]``; ``entropies`` and ``mask`` are (B, T)."""
        ...

    def metrics(self) -> dict[str, float]: ...


def one_optimizer_step(settings: TrainConfig, samples: int) -> bool:
    """Whether the update over ``samples`` step samples is one optimizer step (one epoch, one mini-batch): its
    first forward then runs on the weights the batch would be rescored with."""
    return settings.ppo_epochs == 1 and samples <= settings.mini_batch_size


def score_no_grad(policy, samples: Sequence, micro_batch_size: int) -> list[list[float]]:
    """Teacher-forced log-probs of each sample's response, without gradients; each distinct (prompt, response)
    pair is scored once (``distinct_pairs.score_distinct_no_grad``)."""
    return score_distinct_no_grad(policy, samples, micro_batch_size)[0]


def _order_key(sample: UpdateSample) -> tuple[int, list[int], list[int]]:
    """Length first (micro-batches of similar lengths pad less), then the ids, so that copies of one (prompt,
    response) pair sit side by side and share a micro-batch, where ``score_distinct`` runs them once."""
    return len(sample.prompt_ids) + len(sample.response_ids), sample.prompt_ids, sample.response_ids


def ppo_update(policy, optimizer: torch.optim.Optimizer, samples: list[UpdateSample], settings: TrainConfig,
               generator: torch.Generator, loss_terms: Sequence[LossTerm] = (),
               iteration: int = 0, parallel: DataParallel | None = None) -> dict[str, float]:
    """Run ``ppo_epochs`` passes over ``samples``; returns mean loss metrics and the gradient norm.

    ``loss_terms`` (from trainer features) are added for training iteration ``iteration``.
    ``parallel``: this rank's part in a data-parallel update (every rank passes the same ``samples``).
    """
    parallel = parallel or DataParallel(policy)
    if loss_terms and parallel.world_size > 1:
        raise ValueError("loss terms of trainer features (e.g. EPO) weigh rows over the whole mini-batch and are "
                         "not data-parallel yet: train them at world size 1")
    samples = [s for s in samples if s.response_ids]
    unscored = [s for s in samples if s.old_logprobs is None]
    if unscored and not one_optimizer_step(settings, len(samples)):
        raise ValueError(f"{len(unscored)} samples have no old log-probs: the update can take them from its own "
                         "first forward only when it is one optimizer step (ppo_epochs 1, the batch's "
                         f"{len(samples)} samples <= mini_batch_size {settings.mini_batch_size}); rescore them first")
    totals: dict[str, list[float]] = defaultdict(list)
    # the model stays in eval mode: no dropout, so update log-probs match the rollout's exactly
    for _ in range(settings.ppo_epochs):
        order = torch.randperm(len(samples), generator=generator).tolist()
        for start in range(0, len(order), settings.mini_batch_size):
            mini = [samples[i] for i in order[start:start + settings.mini_batch_size]]
            mini.sort(key=_order_key)  # the mini-batch's sum is the same in any order
            metrics = _mini_batch_step(parallel, optimizer, mini, settings, loss_terms, iteration)
            for key, value in metrics.items():
                totals[key].append(value)
    metrics = {key: float(np.mean(values)) for key, values in totals.items()}
    # how much scoring each distinct pair once can save (copies split by a micro-batch boundary run twice)
    metrics["update/distinct_pair_frac"] = len(distinct_rows(samples)[0]) / max(1, len(samples))
    if unscored:
        metrics.update(_engine_gap(parallel, unscored))
    return metrics


def _engine_gap(parallel: DataParallel, unscored: list[UpdateSample]) -> dict[str, float]:
    """The engine-versus-trainer gap the skipped rescoring pass would have reported, over every rank's tokens
    (each rank filled in the old log-probs of its own rows)."""
    gap = logprob_gaps((s.old_logprobs, s.rollout_logprobs) for s in unscored if s.old_logprobs is not None)
    parts = {"gap_sum": float(gap.sum()), "gap_tokens": float(len(gap)),
             "rollout/logprob_abs_diff_max": float(gap.max()) if len(gap) else float("nan")}
    total = reduce_metrics(parallel.ctx, parts, sum_keys=("gap_sum", "gap_tokens"))
    mean = total["gap_sum"] / total["gap_tokens"] if total["gap_tokens"] else float("nan")
    return {"rollout/logprob_abs_diff": mean, "rollout/logprob_abs_diff_max": total["rollout/logprob_abs_diff_max"]}


def _mini_batch_step(parallel: DataParallel, optimizer, mini: list[UpdateSample], settings: TrainConfig,
                     loss_terms: Sequence[LossTerm], iteration: int) -> dict[str, float]:
    optimizer.zero_grad(set_to_none=True)
    total_tokens = sum(len(s.response_ids) for s in mini)  # of the global mini-batch: every rank knows it
    sums: dict[str, float] = defaultdict(float)
    for term in loss_terms:
        term.start_mini_batch(mini, iteration)
    need_entropy = any(term.needs_entropy for term in loss_terms)
    mine = parallel.rows(len(mini))
    count = parallel.micro_batches(len(mini), settings.micro_batch_size)
    for index in range(count):
        rows = mine[index * settings.micro_batch_size:(index + 1) * settings.micro_batch_size]
        micro = [mini[i] for i in rows] or mini[:1]  # a rank short of rows runs one at weight 0
        tokens = sum(len(s.response_ids) for s in micro)
        weight = tokens / total_tokens if settings.loss_agg == "token-mean" else len(micro) / len(mini)
        weight = weight if rows else 0.0
        with parallel.accumulate(last=index == count - 1):
            loss, entropies, mask, metrics = _micro_batch_loss(parallel.policy, micro, settings, need_entropy)
            for key, value in metrics.items():
                sums[key] += value * weight
            loss = loss * (weight * parallel.world_size)  # DDP averages over ranks; the weights add up to 1
            for term in loss_terms:  # a term weighs its own rows: no micro-batch weight
                loss = loss + term(entropies, mask, slice(rows[0], rows[-1] + 1))
            loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(parallel.parameters(), settings.max_grad_norm)
    optimizer.step()
    for term in loss_terms:
        sums.update(term.metrics())
    sums = sum_metrics(parallel.ctx, sums)  # each rank summed its rows' share of the mini-batch's value
    sums["loss/grad_norm"] = float(grad_norm.full_tensor() if hasattr(grad_norm, "full_tensor") else grad_norm)
    return sums


def _padded(rows: list[list[float]], width: int) -> torch.Tensor:
    out = torch.zeros(len(rows), width)  # (B, T)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row[:width], dtype=torch.float32)
    return out


def _tis_weights(micro: list[UpdateSample], old: torch.Tensor, mask: torch.Tensor, cap: float) -> torch.Tensor:
    """min(pi_old / pi_engine, cap) per token; 1 where the engine's log-probs are unknown (the trainer sampled)."""
    behaviour = _padded([s.rollout_logprobs if s.rollout_logprobs is not None else s.old_logprobs for s in micro],
                        old.shape[1]).to(old.device)
    return torch.exp((old - behaviour).clamp(-20.0, 20.0)).clamp(max=cap) * mask


def _micro_batch_loss(policy, micro: list[UpdateSample], settings: TrainConfig, need_entropy: bool = False):
    want_entropy = settings.entropy_coef != 0.0 or need_entropy
    logprobs, entropies, mask = score_distinct(policy, micro, with_entropy=want_entropy)  # each (B, T)
    width = logprobs.shape[1]
    device = logprobs.device
    if any(s.old_logprobs is None for s in micro):  # on-policy: the same weights' log-probs, so the ratio is 1
        lengths = mask.sum(dim=1).long().tolist()
        for sample, row, n in zip(micro, logprobs.detach().float().cpu(), lengths):
            if sample.old_logprobs is None:
                sample.old_logprobs = row[:n].tolist()
    old = _padded([s.old_logprobs for s in micro], width).to(device)
    adv = torch.tensor([s.advantage for s in micro], dtype=torch.float32, device=device)[:, None] * mask  # (B, T)
    weights = _tis_weights(micro, old, mask, settings.tis_cap) if settings.tis_cap is not None else None
    loss, metrics = losses.ppo_policy_loss(logprobs, old, adv, mask, clip_low=settings.clip_low,
                                           clip_high=settings.clip_high, dual_clip=settings.dual_clip,
                                           agg=settings.loss_agg, token_weights=weights,
                                           reciprocal_clip=settings.clip_reciprocal)
    metrics = {k: float(v) for k, v in metrics.items()}
    if weights is not None:
        counted = mask.sum().clamp(min=1.0)
        metrics["loss/tis_weight_mean"] = float((weights * mask).sum() / counted)
        metrics["loss/tis_capped_frac"] = float(((weights >= settings.tis_cap) * mask).sum() / counted)
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
