"""A separate value model for PPO/GAE: a transformer backbone plus a linear value head.

Values are turn-level: V(s_t) is read at the last token of step t's prompt (the state the action is
taken from), so GAE runs over environment steps, with each step's reward on its last token.
"""

from __future__ import annotations

import torch
from torch import nn

from agentgym.util.padding import left_pad, positions


class Critic(nn.Module):
    def __init__(self, backbone: nn.Module, hidden_size: int, pad_id: int):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(hidden_size, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.pad_id = pad_id

    @classmethod
    def from_pretrained(cls, path: str, pad_id: int, dtype: torch.dtype = torch.float32) -> Critic:
        from transformers import AutoModel

        backbone = AutoModel.from_pretrained(path, dtype=dtype)
        return cls(backbone, backbone.config.hidden_size, pad_id)

    def forward(self, prompt_ids: list[list[int]]) -> torch.Tensor:
        """Values of a batch of prompts, shape (B,)."""
        ids, attention = left_pad(prompt_ids, self.pad_id, self.head.weight.device)  # (B, L): last real token at L-1
        hidden = self.backbone(input_ids=ids, attention_mask=attention,
                               position_ids=positions(attention)).last_hidden_state
        return self.head(hidden[:, -1, :].float()).squeeze(-1)  # (B,)

    @torch.no_grad()
    def values(self, prompt_ids: list[list[int]], micro_batch_size: int = 128) -> list[float]:
        out: list[float] = []
        for start in range(0, len(prompt_ids), micro_batch_size):
            out.extend(self(prompt_ids[start:start + micro_batch_size]).tolist())
        return out


def critic_update(critic: Critic, optimizer: torch.optim.Optimizer, prompt_ids: list[list[int]],
                  old_values: list[float], returns: list[float], clip: float, micro_batch_size: int,
                  max_grad_norm: float = 1.0) -> dict[str, float]:
    """One optimizer step of the clipped value loss over all steps (gradient accumulation)."""
    from agentgym.train import losses

    critic.train()
    optimizer.zero_grad(set_to_none=True)
    total, clip_frac = 0.0, 0.0
    for start in range(0, len(prompt_ids), micro_batch_size):
        end = start + micro_batch_size
        values = critic(prompt_ids[start:end])[:, None]  # (B, 1): one value per step
        old = torch.tensor(old_values[start:end], dtype=torch.float32, device=values.device)[:, None]
        target = torch.tensor(returns[start:end], dtype=torch.float32, device=values.device)[:, None]
        loss, terms = losses.value_loss(values, old, target, torch.ones_like(values), clip=clip, agg="token-mean")
        weight = len(values) / len(prompt_ids)
        (loss * weight).backward()
        total += float(loss.detach()) * weight
        clip_frac += terms["loss/vf_clip_frac"] * weight
    grad_norm = torch.nn.utils.clip_grad_norm_(critic.parameters(), max_grad_norm)
    optimizer.step()
    return {"loss/value": total, "loss/vf_clip_frac": clip_frac, "loss/value_grad_norm": float(grad_norm)}
