"""ArCHer (Zhou et al. 2024, arXiv 2402.19446) as a trainer feature: an off-policy utterance-level critic
whose advantage min Q(s, a) - min V(s) becomes each step's advantage (``credit: archer``).

All of its work happens in ``annotate``, which runs before the shapers and the estimator: the
batch's steps join the replay buffer (``agentgym.train.features.archer.replay_buffer``), the critic takes
``critic_steps`` TD steps on transitions sampled from the whole buffer
(``agentgym.train.features.archer.utterance_critic``), and the online critic's advantage of every row of the batch goes
into the ``archer_advantage`` column, which the ``archer`` estimator returns. During the first
``warmup_iterations`` iterations the column is 0 (ArCHer trains only the critic then).
Rewards are the environment's (the ``reward`` column before the shapers run), as ArCHer's.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import torch

from agentgym.core.policy import SamplingParams
from agentgym.credit.anchors import step_groups
from agentgym.credit.groups import TrajectoryLayout
from agentgym.train.features.archer.replay_buffer import ReplayBuffer, Transition, transitions
from agentgym.train.features.archer.utterance_critic import (
    ACTION_ENCODINGS,
    POOLING,
    UtteranceCritic,
    td_step,
    utterance_advantage,
)
from agentgym.train.features.base import SetupContext, TrainerFeature
from agentgym.util.params import check_choice

V_TARGET_ACTIONS = ("policy", "buffer")


@dataclass(frozen=True)
class ArcherSettings:
    """archer: ArCHer's utterance-level critic (credit=archer); paper values noted where they differ"""

    gamma: float = 0.95
    """Discount of the utterance-level TD targets."""
    tau: float = 0.1
    """Soft target update rate, after every critic optimizer step."""
    capacity: int = 10000
    """Transitions (steps) kept in the replay buffer (paper 100k; ArCHer's code 10k)."""
    critic_steps: int = 32
    """Critic optimizer steps per iteration (ArCHer: 20-50 "epochs")."""
    critic_batch_size: int = 64
    """Transitions per critic step (ArCHer: 256, 8 x 32 accumulated)."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critic (ArCHer 1e-5 to 2e-5 on a pretrained RoBERTa; here a tiny encoder)."""
    warmup_iterations: int = 4
    """Iterations that train only the critic, with advantage 0 (ArCHer 20)."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip of each critic step."""
    v_target_action: str = "policy"
    """V(s) -> Q'(s, a): a fresh sample of the policy at s (policy, ArCHer's) | the stored action (buffer)."""
    truncated_as_done: bool = True
    """A step cut by max steps is stored as done (ArCHer); false leaves it out of the buffer."""
    pooling: str = "last"
    """How the encoder's hidden states become one vector: last (token) | mean."""
    action_encoding: str = "separate"
    """The action encoded alone (separate, ArCHer's) | after the state (joint, s + a)."""


def wanted(config) -> bool:
    return config.credit == "archer"


class ArcherCritic(TrainerFeature):
    """Built when ``credit: archer``: replay buffer, double critic and its target, trained inside ``annotate``."""

    name = "archer"
    settings = ArcherSettings
    data_parallel = False  # trains a model of its own on one rank's buffer

    def __init__(self, critic: UtteranceCritic, settings: ArcherSettings, policy, sampling: SamplingParams,
                 micro_batch_size: int, seed: int = 0):
        self.settings = settings
        self.critic = critic.eval()
        self.target = critic.target_copy()
        self.optimizer = torch.optim.Adam(critic.parameters(), lr=settings.critic_lr)
        self.buffer = ReplayBuffer(settings.capacity, seed)
        self.policy, self.sampling = policy, sampling
        self.micro_batch_size = micro_batch_size
        self.iterations_done = 0

    @classmethod
    def check_config(cls, config, settings: ArcherSettings) -> None:
        s = settings
        check_choice(s.v_target_action, V_TARGET_ACTIONS, "archer_v_target_action")
        check_choice(s.pooling, POOLING, "archer_pooling")
        check_choice(s.action_encoding, ACTION_ENCODINGS, "archer_action_encoding")
        if not (0 <= s.gamma <= 1 and 0 < s.tau <= 1):
            raise ValueError(f"archer: need 0 <= archer_gamma <= 1 and 0 < archer_tau <= 1, got {s.gamma} and {s.tau}")
        if min(s.capacity, s.critic_batch_size) < 1 or min(s.critic_steps, s.warmup_iterations) < 0:
            raise ValueError("archer: capacity and critic_batch_size must be >= 1, critic_steps and "
                             f"warmup_iterations >= 0, got {dataclasses.asdict(s)}")

    @classmethod
    def from_config(cls, config, settings: ArcherSettings, context: SetupContext) -> ArcherCritic | None:
        if not wanted(config):
            return None
        if settings.v_target_action == "policy" and not hasattr(context.policy, "generate_ids"):
            raise ValueError(f"archer_v_target_action=policy samples fresh actions with generate_ids, which "
                             f"{type(context.policy).__name__} lacks: use archer_v_target_action: buffer")
        critic = UtteranceCritic.from_pretrained(context.model_path, context.policy.tokenizer.pad_token_id or 0,
                                                 seed=config.seed, pooling=settings.pooling,
                                                 action_encoding=settings.action_encoding)
        critic.to(getattr(context.policy, "device", "cpu"))  # beside the policy (the encoder is the same size)
        return cls(critic, settings, context.policy, config.sampling(), config.micro_batch_size, seed=config.seed)

    # ---- trainer hooks --------------------------------------------------------------------------
    def annotate(self, trajectories, batch):
        """Buffer, critic steps, then the advantage column of this batch (0 during the warm-up)."""
        tick = time.perf_counter()
        self.buffer.add(transitions(trajectories, self.settings.truncated_as_done))
        step_metrics = [self._critic_step() for _ in range(self.settings.critic_steps) if len(self.buffer)]
        steps = [s for t in trajectories for s in t.steps]
        q, v = self.critic.evaluate([s.prompt_ids for s in steps], [s.response_ids for s in steps],
                                    self.micro_batch_size)  # (2, N) each
        advantage = utterance_advantage(q, v).double().numpy() if steps else np.zeros(0)
        warm_up = self.iterations_done < self.settings.warmup_iterations
        column = np.zeros(len(steps)) if warm_up else advantage
        metrics = {key: float(np.mean([m[key] for m in step_metrics])) for key in (step_metrics or [{}])[0]}
        if steps:
            metrics.update({"archer/q_mean": float(q.min(dim=0).values.mean()),
                            "archer/v_mean": float(v.min(dim=0).values.mean()),
                            "archer/adv_mean": float(advantage.mean()), "archer/adv_std": float(advantage.std()),
                            **_critic_quality(q.min(dim=0).values.double().numpy(), advantage, batch,
                                              self.settings.gamma)})
        metrics.update({"archer/warmup": float(warm_up), "archer/buffer_size": float(len(self.buffer)),
                        "time/archer_critic_s": time.perf_counter() - tick})
        return batch.with_extras(archer_advantage=column), metrics

    def end_iteration(self, iteration):
        self.iterations_done = iteration
        return {}

    def _critic_step(self) -> dict[str, float]:
        sampled = self.buffer.sample(self.settings.critic_batch_size)
        return td_step(self.critic, self.target, self.optimizer, sampled, self._v_target_actions(sampled),
                       self.settings.gamma, self.settings.tau, self.micro_batch_size, self.settings.max_grad_norm)

    def _v_target_actions(self, sampled: list[Transition]) -> list[list[int]]:
        """The actions a in V(s) -> Q'(s, a): fresh samples of the policy at the rollout's settings, or the stored."""
        if self.settings.v_target_action == "buffer":
            return [t.response_ids for t in sampled]
        prompts = [t.prompt_ids for t in sampled]
        return [list(g.token_ids) for start in range(0, len(prompts), self.micro_batch_size)
                for g in self.policy.generate_ids(prompts[start:start + self.micro_batch_size], self.sampling)]

    def state_dict(self):
        return {"critic": self.critic.state_dict(), "target": self.target.state_dict(),
                "optimizer": self.optimizer.state_dict(), "buffer": self.buffer.state_dict(),
                "iterations_done": self.iterations_done}

    def load_state_dict(self, state):
        self.critic.load_state_dict(state["critic"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.buffer.load_state_dict(state["buffer"])
        self.iterations_done = state["iterations_done"]


def _critic_quality(q: np.ndarray, advantage: np.ndarray, batch, gamma: float) -> dict[str, float]:
    """``archer/q_return_corr`` and ``archer/adv_state_corr`` of the batch (one layout, one return scan)."""
    layout = TrajectoryLayout.of(batch)
    returns = _returns(batch, gamma, layout)
    return {"archer/q_return_corr": _correlation(q, returns),
            "archer/adv_state_corr": _state_advantage_correlation(advantage, returns, step_groups(batch, layout))}


def _returns(batch, gamma: float, layout: TrajectoryLayout | None = None) -> np.ndarray:
    """Each step's discounted return-to-go in the batch: a Monte-Carlo sample of Q(s, a) under the policy."""
    if not len(batch):
        return np.zeros(0)
    return (layout or TrajectoryLayout.of(batch)).backward_scan(batch.reward, gamma)


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation; 0 when either side is constant (a critic that has learned nothing yet)."""
    if len(x) < 2 or np.std(x) == 0 or np.std(y) == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def _state_advantage_correlation(advantage: np.ndarray, returns: np.ndarray, state_groups: np.ndarray) -> float:
    """Correlation of the critic's advantage with a Monte-Carlo one: a step's return minus the mean return of
    the steps of its step group (same episode group, same ``state_key``: GiGPO's ``step_groups``), over the
    steps that share a state.

    A critic can match returns by learning V(s) alone; this asks whether it ranks the actions taken at one
    state, which is what the policy update uses (GiGPO's step term is the same Monte-Carlo quantity)."""
    counts = np.bincount(state_groups)
    shared = counts[state_groups] > 1
    mc = returns - (np.bincount(state_groups, weights=returns) / counts)[state_groups]
    return _correlation(np.asarray(advantage)[shared], mc[shared])
