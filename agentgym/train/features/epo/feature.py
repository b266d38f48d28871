"""EPO's entropy regulariser as a trainer feature: one extra loss term, its history in checkpoints."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass

import torch

from agentgym.train.features.base import SetupContext, TrainerFeature
from agentgym.train.features.epo.regularizer import EPORegularizer, trajectory_row_weights

GAUGES = ("loss/epo_beta", "loss/epo_reference")  # the same for every micro-batch: kept, not summed


@dataclass(frozen=True)
class EPOSettings:
    """epo: EPO's entropy regularisation (agentgym.train.features.epo.regularizer)"""

    coef: float = 0.0
    """EPO entropy regularisation weight (paper: 0.001); 0 = off."""
    kappa_l: float = 0.0
    """Lower bound of the entropy corridor, as a multiple of the running mean entropy."""
    kappa_r: float = 2.0
    """Upper bound of the entropy corridor, as a multiple of the running mean entropy."""
    gamma: float = 3.0
    """Decay of the phase weight beta_k = 1 + exp(-gamma k / k_mid)."""
    alpha: float = 0.1
    """Weight of the corridor penalty inside the smoothing term."""


class EPOLoss:
    """``LossTerm`` for the update: trajectory weights over the whole mini-batch, so micro terms add up exactly."""

    needs_entropy = True

    def __init__(self, regularizer: EPORegularizer):
        self.regularizer = regularizer

    def start_mini_batch(self, mini, iteration: int) -> None:
        self.traj_ids = [s.traj_id for s in mini]
        has_tokens = torch.tensor([len(s.response_ids) > 0 for s in mini])
        self.row_weights = trajectory_row_weights(self.traj_ids, has_tokens)
        self.iteration = iteration
        self.sums: dict[str, float] = defaultdict(float)

    def __call__(self, entropies, mask, rows: slice):
        # sign and coefficient are inside the term; the row weights already carry each row's share
        term, metrics = self.regularizer(entropies, mask, self.traj_ids[rows], self.iteration,
                                         row_weights=self.row_weights[rows].to(mask.device))
        for key, value in metrics.items():
            self.sums[key] = value if key in GAUGES else self.sums[key] + value
        return term

    def metrics(self) -> dict[str, float]:
        return dict(self.sums)


class EPOFeature(TrainerFeature):
    """Built when ``epo_coef > 0``."""

    name = "epo"
    settings = EPOSettings

    def __init__(self, regularizer: EPORegularizer):
        self.regularizer = regularizer

    @classmethod
    def from_config(cls, config, settings: EPOSettings, context: SetupContext) -> EPOFeature | None:
        if settings.coef <= 0:
            return None
        return cls(EPORegularizer(total_iterations=config.iterations, **dataclasses.asdict(settings)))

    def loss_terms(self):
        return [EPOLoss(self.regularizer)]

    def state_dict(self):
        return self.regularizer.state_dict()

    def load_state_dict(self, state):
        self.regularizer.load_state_dict(state)
