"""The value model of PPO/GAE as a trainer feature: values into the batch, regression after the update."""

from __future__ import annotations

import numpy as np
import torch

from agentgym.credit.gae import gae_value_targets
from agentgym.train.features.base import SetupContext, TrainerFeature
from agentgym.train.features.critic.value_model import Critic, critic_update

TARGET_PARAMS = ("gamma", "lam")  # of credit_params, shared with the estimator so targets match its returns


class ValueModel(TrainerFeature):
    """Built when ``critic=true``: puts V(s_t) in the ``value`` column; regresses GAE lambda-returns."""

    name = "critic"

    def __init__(self, critic: Critic, optimizer: torch.optim.Optimizer, value_clip: float,
                 micro_batch_size: int, credit_params: dict):
        self.critic, self.optimizer = critic, optimizer
        self.value_clip, self.micro_batch_size = value_clip, micro_batch_size
        self.target_params = {k: v for k, v in credit_params.items() if k in TARGET_PARAMS}

    @classmethod
    def from_config(cls, config, context: SetupContext) -> ValueModel | None:
        if not config.critic:
            return None
        critic = Critic.from_pretrained(context.model_path, pad_id=context.policy.tokenizer.pad_token_id or 0)
        critic.to(getattr(context.policy, "device", "cpu"))  # beside the policy: on a GPU run it stayed on the CPU
        optimizer = torch.optim.AdamW(critic.parameters(), lr=config.critic_lr)
        return cls(critic, optimizer, config.value_clip, config.micro_batch_size, config.credit_params)

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
