"""EPO: entropy-regularised policy optimisation for multi-turn agents (arXiv 2509.22576).

Loss pieces as pure torch functions over (B, T) token tensors (B = step samples, T = response tokens,
``mask`` 1.0 on counted tokens), plus ``EPORegularizer``, which keeps the running entropy history:

    L_H      = mean over trajectories j of mean over their steps t of mean over tokens i of H_jti
    P        = relu(kappa_l * Hbar - H) + relu(H - kappa_r * Hbar)      (per token; Hbar = history mean)
    L_smooth = the same trajectory-level mean of alpha * P
    beta_k   = 1 + exp(-gamma * k / k_mid),  k_mid = floor(K / 2)       (2 at k = 0, decaying towards 1)
    L_EPO    = L_policy - coef * (L_H - beta_k * L_smooth)

so the term added to the policy loss is ``coef * (beta_k * L_smooth - L_H)``. Gradients flow through
H in both pieces (the paper's ReLU form); the released code's constant, gradient-free penalty mask is
deliberately not copied. Hbar is the cumulative mean of the past iterations' mean token entropies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch


def phase_weight(k: int, k_mid: int, gamma: float = 3.0) -> float:
    """beta_k = 1 + exp(-gamma k / k_mid): smoothing weighs twice as much at the start as at the end."""
    return 1.0 + math.exp(-gamma * k / max(k_mid, 1))


def _as_ids(traj_ids: torch.Tensor | Sequence[int], device: torch.device) -> torch.Tensor:
    return torch.as_tensor(traj_ids, dtype=torch.long, device=device).reshape(-1)


def trajectory_row_weights(traj_ids: torch.Tensor | Sequence[int], has_tokens: torch.Tensor) -> torch.Tensor:
    """Weight of each row, shape (B,), in the trajectory-level mean: 1 / (n_traj * steps of its trajectory).

    Rows without counted tokens weigh 0 and do not count as steps. Computing these over a whole
    mini-batch and passing each micro-batch its slice makes the micro-batch terms sum to the exact
    mini-batch value.
    """
    has = has_tokens.to(torch.float64).reshape(-1)
    _, inverse = torch.unique(_as_ids(traj_ids, has.device), return_inverse=True)
    steps = torch.zeros(int(inverse.max()) + 1 if len(inverse) else 0, dtype=torch.float64,
                        device=has.device).index_add_(0, inverse, has)  # (n_traj,)
    n_traj = (steps > 0).sum().clamp(min=1)
    return (has / steps[inverse].clamp(min=1.0) / n_traj).to(torch.float32)


def trajectory_mean(values: torch.Tensor, mask: torch.Tensor, traj_ids: torch.Tensor | Sequence[int],
                    row_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Token mean per step, step mean per trajectory, mean over trajectories; a scalar (0 if no token counts)."""
    mask = mask.to(values.dtype)
    tokens = mask.sum(dim=-1)  # (B,)
    step_mean = (values * mask).sum(dim=-1) / tokens.clamp(min=1.0)  # (B,)
    if row_weights is None:
        row_weights = trajectory_row_weights(traj_ids, tokens > 0)
    return (step_mean * row_weights.to(device=values.device, dtype=values.dtype)).sum()


def corridor_penalty(entropies: torch.Tensor, reference: float, kappa_l: float = 0.0,
                     kappa_r: float = 2.0) -> torch.Tensor:
    """Per-token relu(kappa_l Hbar - H) + relu(H - kappa_r Hbar), same shape as ``entropies``."""
    return torch.relu(kappa_l * reference - entropies) + torch.relu(entropies - kappa_r * reference)


def smoothing_loss(entropies: torch.Tensor, mask: torch.Tensor, traj_ids: torch.Tensor | Sequence[int],
                   reference: float, kappa_l: float = 0.0, kappa_r: float = 2.0, alpha: float = 0.1,
                   row_weights: torch.Tensor | None = None) -> torch.Tensor:
    """L_smooth: trajectory-level mean of alpha times the corridor penalty."""
    penalty = alpha * corridor_penalty(entropies, reference, kappa_l, kappa_r)  # (B, T)
    return trajectory_mean(penalty, mask, traj_ids, row_weights)


def epo_term(entropies: torch.Tensor, mask: torch.Tensor, traj_ids: torch.Tensor | Sequence[int],
             reference: float | None, beta: float, coef: float = 0.001, kappa_l: float = 0.0,
             kappa_r: float = 2.0, alpha: float = 0.1,
             row_weights: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """The term to add to the policy loss, coef * (beta * L_smooth - L_H), and its metrics.

    ``reference=None`` (no history yet) leaves the smoothing out: the corridor is undefined.
    """
    traj_entropy = trajectory_mean(entropies, mask, traj_ids, row_weights)
    metrics = {"loss/epo_entropy": float(traj_entropy.detach()), "loss/epo_beta": float(beta),
               "loss/epo_reference": float("nan") if reference is None else float(reference)}
    if reference is None:
        smooth = torch.zeros((), dtype=entropies.dtype, device=entropies.device)
        metrics["loss/epo_out_of_band_frac"] = 0.0
    else:
        smooth = smoothing_loss(entropies, mask, traj_ids, reference, kappa_l, kappa_r, alpha, row_weights)
        outside = ((entropies < kappa_l * reference) | (entropies > kappa_r * reference)).to(mask.dtype) * mask
        metrics["loss/epo_out_of_band_frac"] = float(outside.sum() / mask.sum().clamp(min=1.0))
    loss = coef * (beta * smooth - traj_entropy)
    metrics.update({"loss/epo_smooth": float(smooth.detach()), "loss/epo": float(loss.detach())})
    return loss, metrics


@dataclass
class EPORegularizer:
    """EPO's loss term with its running history of mean token entropy; one instance per training run.

    Call it on every micro-batch with the iteration index k (0 for the first iteration). The token
    entropies it sees during iteration k (detached) make up that iteration's mean; when a larger k
    arrives, that mean joins the history, whose cumulative mean is Hbar for every later iteration.
    """

    coef: float = 0.001
    kappa_l: float = 0.0
    kappa_r: float = 2.0
    gamma: float = 3.0
    alpha: float = 0.1
    total_iterations: int = 150
    _history_sum: float = field(default=0.0, repr=False)
    _history_count: int = field(default=0, repr=False)
    _iteration: int = field(default=0, repr=False)
    _current_sum: float = field(default=0.0, repr=False)
    _current_tokens: float = field(default=0.0, repr=False)

    @property
    def k_mid(self) -> int:
        return max(self.total_iterations // 2, 1)

    @property
    def reference(self) -> float | None:
        """Hbar: cumulative mean of the completed iterations' mean token entropies (None before any)."""
        return self._history_sum / self._history_count if self._history_count else None

    def __call__(self, entropies: torch.Tensor, mask: torch.Tensor, traj_ids: torch.Tensor | Sequence[int],
                 k: int, row_weights: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss term for iteration k, scalar with gradient through ``entropies`` (B, T), and metrics."""
        if k < self._iteration:
            raise ValueError(f"iteration {k} comes after iteration {self._iteration}; EPO history only moves forward")
        if k > self._iteration:
            self._close_iteration()
            self._iteration = k
        reference = self.reference
        counted = mask.to(entropies.dtype)
        self._current_sum += float((entropies.detach() * counted).sum())
        self._current_tokens += float(counted.sum())
        beta = phase_weight(k, self.k_mid, self.gamma)
        return epo_term(entropies, mask, traj_ids, reference, beta, self.coef, self.kappa_l, self.kappa_r,
                        self.alpha, row_weights)

    def _close_iteration(self) -> None:
        if self._current_tokens > 0:
            self._history_sum += self._current_sum / self._current_tokens
            self._history_count += 1
        self._current_sum, self._current_tokens = 0.0, 0.0

    def state_dict(self) -> dict[str, float]:
        """The history, for checkpoints (resuming must not restart the reference from nothing)."""
        return {"history_sum": self._history_sum, "history_count": self._history_count,
                "iteration": self._iteration, "current_sum": self._current_sum,
                "current_tokens": self._current_tokens}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self._history_sum = float(state["history_sum"])
        self._history_count = int(state["history_count"])
        self._iteration = int(state["iteration"])
        self._current_sum = float(state["current_sum"])
        self._current_tokens = float(state["current_tokens"])
