"""A replay buffer of utterance-level transitions (s, a, r, s', done) kept across iterations (ArCHer).

An off-policy critic learns from every step collected so far, not only the current batch: each
environment step becomes one transition whose state is the step's prompt ids, whose action is its
response ids, and whose next state is the prompt ids of the same trajectory's next step. The buffer
holds at most ``capacity`` transitions (the oldest are overwritten first) and samples with its own
numpy generator, so its draws never disturb the run's other random streams and a resumed run draws
the same transitions as an uninterrupted one (``state_dict`` holds the contents and the generator).
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, field
from typing import Any

import numpy as np

from agentgym.core.types import Trajectory


@dataclass
class Transition:
    """One environment step: state and action as token ids, the reward that followed, the next state."""

    prompt_ids: list[int]
    response_ids: list[int]
    reward: float
    next_prompt_ids: list[int] = field(default_factory=list)  # empty when done: no state follows
    done: bool = False


def transitions(trajectories: list[Trajectory], truncated_as_done: bool = True) -> list[Transition]:
    """The transitions of the trajectories' steps, in step order.

    A step is done when the task ended there (``terminated``). The last step of a trajectory cut by a
    limit has no next prompt (it is never built): ``truncated_as_done`` stores it as done (ArCHer's
    environments report the turn limit as done), otherwise it is left out of the buffer.
    """
    out: list[Transition] = []
    for traj in trajectories:
        for step, following in zip(traj.steps, [*traj.steps[1:], None]):
            if following is not None:
                out.append(Transition(step.prompt_ids, step.response_ids, float(step.reward),
                                      following.prompt_ids, False))
            elif step.terminated or truncated_as_done:
                out.append(Transition(step.prompt_ids, step.response_ids, float(step.reward), [], True))
    return out


class ReplayBuffer:
    """Fixed-capacity ring of transitions with uniform sampling (with replacement, as ArCHer samples)."""

    def __init__(self, capacity: int, seed: int = 0):
        if capacity < 1:
            raise ValueError(f"replay buffer capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.items: list[Transition] = []
        self.next_slot = 0  # where the next transition goes once the buffer is full (the oldest one)
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, new: list[Transition]) -> None:
        for transition in new:
            if len(self.items) < self.capacity:
                self.items.append(transition)
            else:
                self.items[self.next_slot] = transition
            self.next_slot = (self.next_slot + 1) % self.capacity

    def sample(self, n: int) -> list[Transition]:
        if not self.items:
            raise ValueError("cannot sample from an empty replay buffer")
        return [self.items[i] for i in self.rng.integers(0, len(self.items), size=n)]

    def state_dict(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "items": [astuple(t) for t in self.items], "next_slot": self.next_slot,
                "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.capacity = state["capacity"]
        self.items = [Transition(*item) for item in state["items"]]
        self.next_slot = state["next_slot"]
        self.rng.bit_generator.state = state["rng"]
