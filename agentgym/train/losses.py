"""PPO loss pieces as pure torch functions over (B, T) token tensors with a float mask.

B = step samples in the (mini)batch, T = response tokens; ``mask`` is 1.0 on response tokens that
count and 0.0 on padding. Per-step advantages of shape (B,) are broadcast over T. Conventions follow
verl: asymmetric (decoupled) clip, dual clip for negative advantages, ``low_var_kl`` = k3 clamped.
"""

from __future__ import annotations

import torch

AGG_MODES = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum")
KL_KINDS = ("low_var_kl", "k1", "k2", "abs")


def aggregate(values: torch.Tensor, mask: torch.Tensor, mode: str = "token-mean") -> torch.Tensor:
    """Reduce masked (B, T) values to a scalar.

    token-mean: sum over all counted tokens / their number (every token weighs the same).
    seq-mean-token-mean: mean over tokens of each sequence, then mean over sequences.
    seq-mean-token-sum: sum over tokens of each sequence, then mean over sequences.
    Sequences without a counted token are left out of the sequence mean; no counted token at all -> 0.
    """
    mask = mask.to(values.dtype)
    if mode == "token-mean":
        return (values * mask).sum() / mask.sum().clamp(min=1.0)
    if mode not in AGG_MODES:
        raise ValueError(f"agg mode {mode!r} is not one of {', '.join(AGG_MODES)}")
    token_sum = (values * mask).sum(dim=-1)  # (B,)
    tokens = mask.sum(dim=-1)  # (B,)
    per_seq = token_sum / tokens.clamp(min=1.0) if mode == "seq-mean-token-mean" else token_sum
    has_tokens = (tokens > 0).to(values.dtype)
    return (per_seq * has_tokens).sum() / has_tokens.sum().clamp(min=1.0)


def _token_mean(values: torch.Tensor, mask: torch.Tensor) -> float:
    return float(aggregate(values.detach().to(torch.float32), mask, "token-mean"))


def ppo_policy_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                    mask: torch.Tensor, clip_low: float = 0.2, clip_high: float = 0.2,
                    dual_clip: float | None = None, agg: str = "token-mean",
                    token_weights: torch.Tensor | None = None,
                    reciprocal_clip: bool = False) -> tuple[torch.Tensor, dict[str, float]]:
    """Clipped surrogate loss -min(rho A, clip(rho, 1-clip_low, 1+clip_high) A), per token then aggregated.

    ``reciprocal_clip``: the ratio is clamped to [1/(1+clip_high), 1+clip_high] instead (LOOP,
    arXiv 2502.01600): the bounds are symmetric in log space, so ``clip_low`` is not read.

    ``token_weights`` (B, T), constants, multiply each token's loss before aggregation: the truncated
    importance weights min(pi_old / pi_engine, C) that correct for a generation engine whose
    probabilities differ from the trainer's (verl's TIS).

    ``dual_clip=c`` (c > 1, verl's clip_ratio_c, 3.0 there) also bounds the loss of negative-advantage
    tokens by -c A, so a huge ratio on a bad action cannot blow the update up.
    Metrics (token means): loss/pg, loss/clip_frac (tokens where the clip bound is the active one),
    loss/dual_clip_frac, loss/approx_kl (mean of old - new log-prob, the k1 estimate of KL(old||new)).
    """
    if dual_clip is not None and dual_clip <= 1.0:
        raise ValueError(f"dual_clip must be > 1, got {dual_clip}")
    if advantages.dim() == logprobs.dim() - 1:
        advantages = advantages.unsqueeze(-1)  # (B,) -> (B, 1), broadcast over tokens
    log_ratio = (logprobs - old_logprobs).clamp(-20.0, 20.0)  # (B, T)
    ratio = torch.exp(log_ratio)
    loss_unclipped = -advantages * ratio
    lower = 1.0 / (1.0 + clip_high) if reciprocal_clip else 1.0 - clip_low
    loss_clipped = -advantages * ratio.clamp(lower, 1.0 + clip_high)
    per_token = torch.maximum(loss_unclipped, loss_clipped)  # (B, T)
    clipped = loss_clipped > loss_unclipped
    dual_active = torch.zeros_like(clipped)
    if dual_clip is not None:
        dual_bound = -advantages * dual_clip
        dual_active = (advantages < 0) & (per_token > dual_bound)
        per_token = torch.where(advantages < 0, torch.minimum(per_token, dual_bound), per_token)
    if token_weights is not None:
        per_token = per_token * token_weights.detach()
    loss = aggregate(per_token, mask, agg)
    metrics = {
        "loss/pg": float(loss.detach()),
        "loss/clip_frac": _token_mean(clipped, mask),
        "loss/dual_clip_frac": _token_mean(dual_active, mask),
        "loss/approx_kl": _token_mean(-log_ratio, mask),
    }
    return loss, metrics


def kl_penalty(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, kind: str = "low_var_kl") -> torch.Tensor:
    """Per-token estimate of KL(pi || pi_ref) from log-probs of tokens sampled from pi, shape (B, T).

    With log r = ref - logprob: k1 = -log r (unbiased, can be negative); k2 = (log r)^2 / 2;
    abs = |log r|; low_var_kl = k3 = r - log r - 1 (unbiased, never negative), with log r clamped to
    [-20, 20] and the result to [-10, 10] as verl does.
    """
    diff = logprobs - ref_logprobs
    if kind == "k1":
        return diff
    if kind == "k2":
        return 0.5 * diff.square()
    if kind == "abs":
        return diff.abs()
    if kind == "low_var_kl":
        log_ratio = (-diff).clamp(-20.0, 20.0)
        return (torch.exp(log_ratio) - log_ratio - 1.0).clamp(-10.0, 10.0)
    raise ValueError(f"kl kind {kind!r} is not one of {', '.join(KL_KINDS)}")


def entropy_bonus(entropies: torch.Tensor, mask: torch.Tensor, agg: str = "token-mean") -> torch.Tensor:
    """Aggregated token entropy (a scalar to subtract, times its coefficient, from the loss)."""
    return aggregate(entropies, mask, agg)


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
               clip: float | None = 0.2, agg: str = "token-mean") -> tuple[torch.Tensor, dict[str, float]]:
    """Clipped PPO value loss 0.5 * max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2), aggregated.

    ``clip=None`` gives the plain 0.5 (V - R)^2. Shapes (B, T), or (B, 1) for a turn-level critic.
    Metrics: loss/vf and loss/vf_clip_frac (tokens where the clipped term is the larger one).
    """
    unclipped = (values - returns).square()
    if clip is None:
        per_token, clipped = unclipped, torch.zeros_like(unclipped, dtype=torch.bool)
    else:
        values_clipped = old_values + (values - old_values).clamp(-clip, clip)
        clipped_sq = (values_clipped - returns).square()
        per_token, clipped = torch.maximum(unclipped, clipped_sq), clipped_sq > unclipped
    loss = 0.5 * aggregate(per_token, mask, agg)
    return loss, {"loss/vf": float(loss.detach()), "loss/vf_clip_frac": _token_mean(clipped, mask)}
