"""The value model of PPO/GAE as a trainer feature: values into the batch, regression after the update."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from agentgym.credit.gae import gae_value_targets
from agentgym.train.features.base import SetupContext, TrainerFeature
from agentgym.train.features.critic.value_model import Critic, critic_update

TARGET_PARAMS = ("gamma", "lam")  # of credit_params, shared with the estimator so targets match its returns


@dataclass(frozen=True)
class CriticSettings:
    """critic: PPO's value model (credit=gae needs it)"""

    enabled: bool = False
    """Train a value model and put its values in the batch (needed by credit=gae, i.e. PPO)."""
    lr: float = 1e-4
    """AdamW learning rate of the value model."""
    value_clip: float = 0.2
    """Clip range of the value model's update around its old values."""


class ValueModel(TrainerFeature):
    """Built when ``critic_enabled=true``: puts V(s_t) in the ``value`` column; regresses GAE lambda-returns."""

    name = "critic"
    settings = CriticSettings

    def __init__(self, critic: Critic, optimizer: torch.optim.Optimizer, value_clip: float,
                 micro_batch_size: int, credit_params: dict):
        self.critic, self.optimizer = critic, optimizer
        self.value_clip, self.micro_batch_size = value_clip, micro_batch_size
        self.target_params = {k: v for k, v in credit_params.items() if k in TARGET_PARAMS}

    @classmethod
    def from_config(cls, config, settings: CriticSettings, context: SetupContext) -> ValueModel | None:
        if not settings.enabled:
            return None
        critic = Critic.from_pretrained(context.model_path, pad_id=context.policy.tokenizer.pad_token_id or 0)
        critic.to(getattr(context.policy, "device", "cpu"))  # beside the policy: on a GPU run it stayed on the CPU
        optimizer = torch.optim.AdamW(critic.parameters(), lr=settings.lr)
        return cls(critic, optimizer, settings.value_clip, config.micro_batch_size, config.credit_params)

    def annotate(self, trajectories, batch):
        prompts = [s.prompt_ids for t in trajectories for s in t.steps]
        return batch.with_extras(value=np.asarray(self.critic.values(prompts), dtype=np.float64)), {}

    def after_update(self, steps, batch):
        """Value targets are GAE lambda-returns of the shaped rewards (not the modified advantages)."""
        if not len(steps):
            return {}
        targets = gae_value_targets(batch, **self.target_params)
        return critic_update(self.critic, self.optimizer, [s.prompt_ids for s in steps],
                             batch.extras["value"].tolist(), targets.tolist(), self.value_clip,
                             self.micro_batch_size)

    def state_dict(self):
        return {"critic": self.critic.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state):
        self.critic.load_state_dict(state["critic"])
        self.optimizer.load_state_dict(state["optimizer"])
