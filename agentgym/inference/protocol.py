"""The generation engine: where rollouts are generated, apart from the model the trainer updates.

The trainer always trains a transformers model (``TrainablePolicy``); rollouts are sampled by a
``RolloutEngine``, which is that model itself (``hf``), an in-process vLLM engine (``vllm``) or an
OpenAI-compatible server (``server``). After every update the trainer hands the engine its new
weights in two halves, so an asynchronous engine can keep sampling while the trainer moves on:
``snapshot(policy)`` on the trainer's thread, right after the update (a consistent copy), and
``load(snapshot, version)`` once the engine is idle between two rollout batches.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from agentgym.core.policy import Policy


@runtime_checkable
class RolloutEngine(Policy, Protocol):
    backend: str  # hf | vllm | server
    version: int  # policy version of the weights it holds: the number of updates they had seen
    rescores: bool  # its samples are not the trained model's own, so the trainer rescores them

    def snapshot(self, policy: Any) -> Any:
        """What ``load`` needs to reproduce ``policy``'s current weights (taken while they stand still)."""
        ...

    def load(self, snapshot: Any, version: int) -> None:
        """Take the weights of ``snapshot`` as policy version ``version``; called between rollout batches."""
        ...

    def close(self) -> None: ...
