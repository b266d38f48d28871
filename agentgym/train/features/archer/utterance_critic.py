"""ArCHer's utterance-level critic: double Q(s, a) and double V(s) on a language-model encoder, and its TD step.

A state s is a step's prompt ids and an action a its response ids; each is encoded separately (the
hidden state of its last token, left padded, as ``agentgym.train.features.critic.value_model`` reads values) and the heads are
MLPs on [h_s ; h_a] (Q) and on h_s (V), as ArCHer's RoBERTa critic. Two heads of each kind, and the
minimum of the two, curb the over-estimation a single bootstrapped head drifts into. The TD step
regresses, with a slowly moving target copy (primed) of the whole critic:

    Q_i(s, a) -> r + gamma (1 - done) V'_i(s')      V_i(s) -> Q'_i(s, a_pi),  a_pi ~ pi(. | s)

then moves the target: theta' <- tau theta + (1 - tau) theta'. The policy's advantage of a step is
min(Q_1, Q_2)(s, a) - min(V_1, V_2)(s) of the online critic.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from agentgym.train.features.archer.replay_buffer import Transition
from agentgym.util.padding import left_pad, positions


def q_targets(reward: torch.Tensor, done: torch.Tensor, next_v: torch.Tensor, gamma: float) -> torch.Tensor:
    """TD targets of the Q heads, r + gamma (1 - done) V'_i(s'); ``next_v`` (2, B) -> (2, B)."""
    return reward[None, :] + gamma * (1.0 - done[None, :]) * next_v


def utterance_advantage(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """min_i Q_i(s, a) - min_i V_i(s) from (2, B) heads, shape (B,)."""
    return q.min(dim=0).values - v.min(dim=0).values


@torch.no_grad()
def soft_update_(target: nn.Module, online: nn.Module, tau: float) -> None:
    """theta' <- tau theta + (1 - tau) theta', parameter by parameter, in place."""
    for target_param, param in zip(target.parameters(), online.parameters(), strict=True):
        target_param.mul_(1.0 - tau).add_(param.detach(), alpha=tau)


def _mlp(width_in: int, width: int) -> nn.Sequential:
    head = nn.Sequential(nn.Linear(width_in, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, 1))
    nn.init.zeros_(head[-1].weight)  # every value starts at 0, so the first advantages are exactly 0
    nn.init.zeros_(head[-1].bias)
    return head


POOLING = ("last", "mean")
ACTION_ENCODINGS = ("separate", "joint")


class UtteranceCritic(nn.Module):
    """``pooling``: how a sequence becomes one vector. ``last`` reads the last token's hidden state (the only
    one that sees the whole sequence in a causal LM); ``mean`` averages every token's. An SFT'd policy's last
    prompt token predicts the response's fixed opening (``<action>``) whatever the state, so its hidden state
    can carry little of the state until the encoder has been trained; the mean keeps every token's.

    ``action_encoding``: ``separate`` (ArCHer) encodes the action on its own, so the Q heads must learn
    every state-action interaction from [h_s ; h_a]; ``joint`` encodes the action after the state (the
    sequence s + a), so the encoder's attention conditions the action on the state, and the Q heads read
    [h_s ; h_(s+a)]."""

    def __init__(self, encoder: nn.Module, hidden_size: int, pad_id: int, seed: int = 0, pooling: str = "last",
                 action_encoding: str = "separate"):
        super().__init__()
        if pooling not in POOLING:
            raise ValueError(f"pooling must be one of {POOLING}, got {pooling!r}")
        if action_encoding not in ACTION_ENCODINGS:
            raise ValueError(f"action_encoding must be one of {ACTION_ENCODINGS}, got {action_encoding!r}")
        self.encoder = encoder
        self.pad_id = int(pad_id)
        self.pooling = pooling
        self.action_encoding = action_encoding
        with torch.random.fork_rng(devices=[]):  # seeded heads, without touching the run's global stream
            torch.manual_seed(seed)
            self.q_heads = nn.ModuleList([_mlp(2 * hidden_size, hidden_size) for _ in range(2)])
            self.v_heads = nn.ModuleList([_mlp(hidden_size, hidden_size) for _ in range(2)])

    @classmethod
    def from_pretrained(cls, path: str, pad_id: int, seed: int = 0, pooling: str = "last",
                        action_encoding: str = "separate") -> UtteranceCritic:
        """A trainable encoder of its own, loaded from ``path`` (the run's starting model)."""
        from transformers import AutoModel

        encoder = AutoModel.from_pretrained(path, dtype=torch.float32)
        return cls(encoder, encoder.config.hidden_size, pad_id, seed, pooling, action_encoding)

    @property
    def device(self) -> torch.device:
        return next(self.q_heads.parameters()).device

    def encode(self, ids: Sequence[Sequence[int]]) -> torch.Tensor:
        """Pooled hidden states of left-padded sequences, shape (B, H); an empty one reads one pad token."""
        tokens, attention = left_pad([list(r) or [self.pad_id] for r in ids], self.pad_id, self.device)  # (B, L)
        hidden = self.encoder(input_ids=tokens, attention_mask=attention,
                              position_ids=positions(attention)).last_hidden_state
        if self.pooling == "last":
            return hidden[:, -1, :].float()  # (B, H)
        weights = attention[:, :, None].to(hidden.dtype)  # (B, L, 1)
        return ((hidden * weights).sum(dim=1) / weights.sum(dim=1)).float()  # (B, H)

    def q_values(self, h_state: torch.Tensor, h_action: torch.Tensor) -> torch.Tensor:
        joint = torch.cat([h_state, h_action], dim=-1)  # (B, 2H)
        return torch.stack([head(joint).squeeze(-1) for head in self.q_heads])  # (2, B)

    def v_values(self, h_state: torch.Tensor) -> torch.Tensor:
        return torch.stack([head(h_state).squeeze(-1) for head in self.v_heads])  # (2, B)

    def forward(self, states: Sequence[Sequence[int]], actions: Sequence[Sequence[int]]
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(Q (2, B), V (2, B)) of states and the actions taken there."""
        h_state = self.encode(states)
        if self.action_encoding == "joint":
            h_action = self.encode([[*state, *action] for state, action in zip(states, actions)])
        else:
            h_action = self.encode(actions)
        return self.q_values(h_state, h_action), self.v_values(h_state)

    @torch.no_grad()
    def evaluate(self, states: Sequence[Sequence[int]], actions: Sequence[Sequence[int]],
                 micro_batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Q and V, (2, N) each, on the CPU, computed in chunks without gradients."""
        parts = [self(states[i:i + micro_batch_size], actions[i:i + micro_batch_size])
                 for i in range(0, len(states), micro_batch_size)]
        return torch.cat([q for q, _ in parts], dim=1).cpu(), torch.cat([v for _, v in parts], dim=1).cpu()

    def target_copy(self) -> UtteranceCritic:
        """The target critic: a frozen copy of every weight (encoder included, as ArCHer's)."""
        target = copy.deepcopy(self)
        target.requires_grad_(False)
        return target.eval()


@torch.no_grad()
def td_targets(target: UtteranceCritic, batch: list[Transition], pi_actions: list[list[int]], gamma: float,
               micro_batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(targets of the Q heads, targets of the V heads), (2, B) each, from the target critic."""
    states = [t.prompt_ids for t in batch]
    v_target = target.evaluate(states, pi_actions, micro_batch_size)[0]  # Q'_i(s, a_pi): (2, B)
    next_v = torch.zeros(2, len(batch))
    live = [i for i, t in enumerate(batch) if not t.done]
    for start in range(0, len(live), micro_batch_size):
        rows = live[start:start + micro_batch_size]
        next_v[:, rows] = target.v_values(target.encode([batch[i].next_prompt_ids for i in rows])).cpu()
    reward = torch.tensor([t.reward for t in batch], dtype=torch.float32)
    done = torch.tensor([float(t.done) for t in batch])
    return q_targets(reward, done, next_v, gamma), v_target


def td_step(critic: UtteranceCritic, target: UtteranceCritic, optimizer: torch.optim.Optimizer,
            batch: list[Transition], pi_actions: list[list[int]], gamma: float, tau: float,
            micro_batch_size: int, max_grad_norm: float) -> dict[str, float]:
    """One optimizer step of the four MSE losses over ``batch`` (gradient accumulation), then the soft update."""
    q_target, v_target = td_targets(target, batch, pi_actions, gamma, micro_batch_size)
    q_target, v_target = q_target.to(critic.device), v_target.to(critic.device)
    critic.train()
    optimizer.zero_grad(set_to_none=True)
    q_loss_total = v_loss_total = 0.0
    for start in range(0, len(batch), micro_batch_size):
        rows = slice(start, start + micro_batch_size)
        chunk = batch[rows]
        q, v = critic([t.prompt_ids for t in chunk], [t.response_ids for t in chunk])  # (2, b) each
        q_loss = ((q - q_target[:, rows]) ** 2).mean(dim=1)  # (2,): one MSE per head
        v_loss = ((v - v_target[:, rows]) ** 2).mean(dim=1)
        weight = len(chunk) / len(batch)
        ((q_loss.sum() + v_loss.sum()) * weight).backward()  # ArCHer's q1 + q2 + v1 + v2 losses
        q_loss_total += float(q_loss.mean().detach()) * weight
        v_loss_total += float(v_loss.mean().detach()) * weight
    grad_norm = torch.nn.utils.clip_grad_norm_(critic.parameters(), max_grad_norm)
    optimizer.step()
    critic.eval()
    soft_update_(target, critic, tau)
    return {"loss/archer_q": q_loss_total, "loss/archer_v": v_loss_total, "archer/grad_norm": float(grad_norm)}
