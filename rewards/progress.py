"""Stepwise progress attribution (SPA-RL, arXiv 2505.20732): a learned estimator of each step's
contribution c_t to its trajectory's final reward.

The estimator never sees a step label. It is trained on whole trajectories so that the sum of its
per-step predictions regresses the final reward, MSE(sum_t c_t, R) (the paper's definition; the
released code overwrites the predictions with a leave-one-out trajectory advantage, which we do
not copy), plus a small penalty on sum_t c_t^2 (``spread``) that picks the even split among the splits
that fit equally well (our departure; docs/credit.md). The ``progress`` shaper then turns c_t into a dense
step reward.

Encoders (``encoder=``):

* ``"policy"``: a frozen copy of the policy's language model taken at fit time; only the value head
  learns, on hidden states computed once per fit (cheap, and the policy's gradients are untouched).
* ``"separate"``: a separate language model loaded by path, fine-tuned together with the head.

Each step is read as its prompt followed by its response. Its feature joins two last-layer hidden
states: at the prompt's last token (the state, as the policy sees it before acting) and the mean over
the response tokens (the action taken).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from agentgym.util.paths import replace_dir

ESTIMATOR_FILE = "progress_estimator.json"
StepIds = tuple[list[int], list[int]]  # (prompt ids, response ids) of one step


@dataclass
class ProgressSettings:
    """How the estimator is built and fitted."""

    head_hidden: int = 64
    """Hidden units of the estimator's MLP head."""
    epochs: int = 40
    """Passes over the buffer per fit."""
    lr: float = 3e-3
    """AdamW learning rate of the value head."""
    encoder_lr: float = 1e-4
    """AdamW learning rate of a separate encoder (estimator=separate only)."""
    weight_decay: float = 0.01
    """AdamW weight decay of the estimator."""
    batch_trajectories: int = 32
    """Trajectories per optimizer step."""
    micro_batch_size: int = 64
    """Steps per encoder forward pass."""
    val_frac: float = 0.1
    """Share of trajectories held back for progress/val_loss."""
    early_stopping: bool = True
    """Keep the weights of the epoch with the lowest held-back loss."""
    spread: float = 0.3
    """Weight of sum_t c_t^2 in the training loss (prefers credit spread over the steps; see trajectory_loss)."""
    seed: int = 0
    """Seeds the head's initialisation and the fit's shuffling."""


def trajectory_loss(contributions: torch.Tensor, traj_index: torch.Tensor, returns: torch.Tensor,
                    spread: float = 0.0) -> torch.Tensor:
    """Mean over trajectories of (sum_t c_t - R)^2 + spread * sum_t c_t^2; ``traj_index[i]`` is step i's row
    in ``returns``.

    The sum-to-return term alone leaves the split of R over the steps free: "all of it on the step onto the
    goal" fits as well as an even split, and which one a fit lands on depends on its seed. Among splits with
    the same sum, sum_t c_t^2 is smallest for the even one, so ``spread > 0`` prefers credit spread over the
    steps that led to the outcome (a departure from SPA-RL, whose loss is the first term; docs/credit.md).
    """
    predicted = torch.zeros_like(returns).index_add(0, traj_index, contributions)  # (n_traj,)
    loss = torch.mean((predicted - returns) ** 2)
    if spread:
        loss = loss + spread * torch.zeros_like(returns).index_add(0, traj_index, contributions ** 2).mean()
    return loss


class ProgressEstimator(nn.Module):
    """A language-model encoder plus a small MLP head giving one contribution c_t per step."""

    def __init__(self, encoder: nn.Module, pad_id: int, train_encoder: bool,
                 settings: ProgressSettings | None = None):
        super().__init__()
        self.settings = settings or ProgressSettings()
        self.encoder = encoder
        self.pad_id = int(pad_id)
        self.train_encoder = train_encoder
        self.encoder.requires_grad_(train_encoder)
        hidden = 2 * encoder.config.hidden_size  # [state ; action] features
        with torch.random.fork_rng(devices=[]):  # seeded head, without touching the run's global RNG
            torch.manual_seed(self.settings.seed)
            self.head = nn.Sequential(nn.Linear(hidden, self.settings.head_hidden), nn.Tanh(),
                                      nn.Linear(self.settings.head_hidden, 1))
        nn.init.zeros_(self.head[2].weight)
        nn.init.zeros_(self.head[2].bias)

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def from_policy(cls, policy, settings: ProgressSettings | None = None) -> ProgressEstimator:
        """Frozen copy of the policy's current weights as encoder (``encoder="policy"``)."""
        encoder = copy.deepcopy(policy.model).eval()
        return cls(encoder, policy.tokenizer.pad_token_id or 0, train_encoder=False, settings=settings)

    @classmethod
    def from_model(cls, path: str, pad_id: int, settings: ProgressSettings | None = None) -> ProgressEstimator:
        """A separate language model, fine-tuned with the head (``encoder="separate"``)."""
        from transformers import AutoModelForCausalLM

        encoder = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        return cls(encoder, pad_id, train_encoder=True, settings=settings)

    @classmethod
    def build(cls, encoder: str, policy, model_path: str, settings: ProgressSettings | None = None
              ) -> ProgressEstimator:
        """``encoder="policy"`` (frozen copy of ``policy``) or ``"separate"`` (the model at ``model_path``)."""
        if encoder == "policy":
            return cls.from_policy(policy, settings)
        if encoder == "separate":
            return cls.from_model(model_path, policy.tokenizer.pad_token_id or 0, settings)
        raise ValueError(f"progress encoder must be 'policy' or 'separate', got {encoder!r}")

    def refresh_encoder(self, policy) -> None:
        """Re-copy the policy's current weights (``policy`` encoders only), before a refit."""
        if not self.train_encoder:
            self.encoder.load_state_dict(policy.model.state_dict())

    # ---- prediction ---------------------------------------------------------------------------
    def _features(self, steps: list[StepIds]) -> torch.Tensor:
        """[hidden at the prompt's last token ; mean hidden over the response], shape (B, 2 * hidden)."""
        device = self.head[0].weight.device
        rows = [list(p) + list(r) for p, r in steps]
        width = max(1, max(len(row) for row in rows))
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        response = torch.zeros((len(rows), width), dtype=torch.float32)  # (B, L): 1 on response tokens
        state_col = torch.zeros(len(rows), dtype=torch.long)
        for i, (row, (_, r)) in enumerate(zip(rows, steps)):  # left padding: every row ends in column width-1
            ids[i, width - len(row):] = torch.as_tensor(row, dtype=torch.long)
            mask[i, width - len(row):] = 1
            response[i, width - len(r):] = 1.0 if r else 0.0
            state_col[i] = max(width - len(r) - 1, width - len(row))
        ids, mask, response, state_col = ids.to(device), mask.to(device), response.to(device), state_col.to(device)
        positions = (mask.cumsum(1) - 1).clamp(min=0)
        out = self.encoder(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False,
                           output_hidden_states=True, logits_to_keep=1)
        hidden = out.hidden_states[-1].float()  # (B, L, H)
        state = hidden[torch.arange(len(rows), device=device), state_col]  # (B, H)
        count = response.sum(1, keepdim=True)  # (B, 1)
        action = torch.where(count > 0, (hidden * response[..., None]).sum(1) / count.clamp(min=1), state)
        return torch.cat([state, action], dim=-1)  # (B, 2H)

    def _all_features(self, steps: list[StepIds]) -> torch.Tensor:
        size = self.settings.micro_batch_size
        with torch.no_grad():
            return torch.cat([self._features(steps[i:i + size]) for i in range(0, len(steps), size)])

    def forward(self, steps: list[StepIds]) -> torch.Tensor:
        """Contributions c_t of a batch of steps, shape (B,)."""
        return self.head(self._features(steps)).squeeze(-1)

    @torch.no_grad()
    def predict(self, steps: list[StepIds]) -> np.ndarray:
        self.eval()
        if not steps:
            return np.zeros(0)
        return self.head(self._all_features(steps)).squeeze(-1).double().cpu().numpy()

    # ---- fitting ------------------------------------------------------------------------------
    def fit(self, trajectories: list[list[StepIds]], returns: list[float]) -> dict[str, float]:
        """Regress sum_t c_t onto each trajectory's final reward; returns fit diagnostics.

        ``trajectories[j]`` holds the (prompt, response) ids of trajectory j's steps; ``returns[j]`` its reward.
        """
        if len(trajectories) != len(returns) or not trajectories:
            raise ValueError("fit needs one return per trajectory and at least one trajectory")
        s = self.settings
        rng = np.random.default_rng(s.seed)
        order = rng.permutation(len(trajectories))
        n_val = int(len(trajectories) * s.val_frac) if len(trajectories) >= 10 else 0
        val, train = order[:n_val], order[n_val:]
        steps = [seq for traj in trajectories for seq in traj]
        offsets = np.cumsum([0, *(len(t) for t in trajectories)])
        rows_of = [np.arange(offsets[j], offsets[j + 1]) for j in range(len(trajectories))]
        target = torch.tensor(returns, dtype=torch.float32)
        cached = None if self.train_encoder else self._all_features(steps)  # (n_steps, 2 * hidden)
        params = [{"params": self.head.parameters(), "lr": s.lr}]
        if self.train_encoder:
            params.append({"params": self.encoder.parameters(), "lr": s.encoder_lr})
        optimizer = torch.optim.AdamW(params, weight_decay=s.weight_decay)
        best_loss, best_state, best_epoch = float("inf"), None, s.epochs
        for epoch in range(1, s.epochs + 1):
            self.train()
            self.encoder.train(self.train_encoder)
            shuffled = rng.permutation(train)
            for start in range(0, len(shuffled), s.batch_trajectories):
                batch = shuffled[start:start + s.batch_trajectories]
                loss = self._batch_loss(batch, rows_of, steps, cached, target, spread=s.spread)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            if s.early_stopping and len(val):
                self.eval()
                with torch.no_grad():
                    val_loss = float(self._batch_loss(val, rows_of, steps, cached, target))
                if val_loss < best_loss:
                    best_loss, best_epoch = val_loss, epoch
                    best_state = {k: v.detach().clone() for k, v in self.state_dict().items()}
        if best_state is not None:
            self.load_state_dict(best_state)
        self.eval()
        with torch.no_grad():
            metrics = {"progress/fit_loss": float(self._batch_loss(train, rows_of, steps, cached, target)),
                       "progress/fit_trajectories": float(len(train)), "progress/fit_epochs": float(best_epoch)}
            if len(val):
                metrics["progress/val_loss"] = float(self._batch_loss(val, rows_of, steps, cached, target))
        return metrics

    def _batch_loss(self, trajs: np.ndarray, rows_of: list[np.ndarray], steps: list[StepIds],
                    cached: torch.Tensor | None, target: torch.Tensor, spread: float = 0.0) -> torch.Tensor:
        """The training loss with ``spread``; the reported and early-stopping losses are the pure MSE (0)."""
        rows = np.concatenate([rows_of[j] for j in trajs])
        local = torch.as_tensor(np.repeat(np.arange(len(trajs)), [len(rows_of[j]) for j in trajs]))
        if cached is not None:
            c = self.head(cached[torch.as_tensor(rows)]).squeeze(-1)
        else:
            size = self.settings.micro_batch_size
            c = torch.cat([self([steps[r] for r in rows[i:i + size]]) for i in range(0, len(rows), size)])
        return trajectory_loss(c, local, target[torch.as_tensor(trajs)], spread)

    # ---- persistence --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """A folder (encoder as an HF model folder, head weights, settings), written aside and renamed in."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.encoder.save_pretrained(tmp / "encoder")
        torch.save(self.head.state_dict(), tmp / "head.pt")
        meta = {"pad_id": self.pad_id, "train_encoder": self.train_encoder, "settings": asdict(self.settings)}
        (tmp / ESTIMATOR_FILE).write_text(json.dumps(meta, indent=2))
        replace_dir(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ProgressEstimator:
        from transformers import AutoModelForCausalLM

        path = Path(path)
        meta = json.loads((path / ESTIMATOR_FILE).read_text())
        encoder = AutoModelForCausalLM.from_pretrained(path / "encoder", dtype=torch.float32)
        estimator = cls(encoder, meta["pad_id"], meta["train_encoder"], ProgressSettings(**meta["settings"]))
        estimator.head.load_state_dict(torch.load(path / "head.pt", weights_only=True))
        return estimator.eval()
