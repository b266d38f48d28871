"""How one rank takes part in a data-parallel update: its rows of every mini-batch, and the gradient all-reduce.

Every rank holds the whole batch (``agentgym.train.distributed``), draws the same mini-batch order and
sorts each mini-batch by length, then takes every ``world_size``-th sample of it (lengths stay
balanced). Losses are weighted by the *global* mini-batch's token (or sequence) counts and scaled by
``world_size``, because DDP averages gradients over ranks: the all-reduced gradient is the
single-process gradient of the same global mini-batch, whatever the world size. Every rank runs
the same number of micro-batches (a rank short of samples runs a zero-weight one) so the collectives
line up; gradients are all-reduced once per mini-batch, on its last micro-batch.

``strategy="fsdp"`` shards the trained model instead (FSDP2 ``fully_shard`` on every decoder layer,
then the whole model): parameters, gradients and optimizer state are split over the ranks, and every
forward pass of the model becomes a collective all ranks make together. The full weights then exist
only when gathered (``full_state``: checkpoints, the generation engine's copy).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import torch

from agentgym.train.distributed import SINGLE, DistContext

STRATEGIES = ("ddp", "fsdp")


class DataParallel:
    """The update's view of the policy: ``policy`` scores through the DDP module; ``ctx`` names the rank."""

    def __init__(self, policy: Any, ctx: DistContext = SINGLE, strategy: str = "ddp"):
        if strategy not in STRATEGIES:
            raise ValueError(f"data_parallel must be one of {STRATEGIES}, got {strategy!r}")
        self.ctx = ctx
        self.policy = policy
        self.module = None
        self.sharded = ctx.enabled and strategy == "fsdp"
        if self.sharded:
            shard(policy.model)
        elif ctx.enabled:
            from torch.nn.parallel import DistributedDataParallel

            device_ids = [ctx.local_rank] if ctx.backend == "nccl" else None
            # DDP broadcasts rank 0's parameters and buffers here, so every replica starts equal
            self.module = DistributedDataParallel(policy.model, device_ids=device_ids)
            self.policy = copy.copy(policy)  # the same policy, but its forward passes go through DDP
            self.policy.model = self.module

    @property
    def world_size(self) -> int:
        return self.ctx.world_size

    def rows(self, n: int) -> list[int]:
        return rank_rows(n, self.ctx.rank, self.ctx.world_size)

    def micro_batches(self, n: int, micro_batch_size: int) -> int:
        return micro_batch_count(n, self.ctx.world_size, micro_batch_size)

    @contextlib.contextmanager
    def accumulate(self, last: bool) -> Iterator[None]:
        """Backward passes inside keep their gradients local, except on the mini-batch's ``last`` one."""
        if self.sharded:
            self.policy.model.set_requires_gradient_sync(last)
            yield
        elif self.module is None or last:
            yield
        else:
            with self.module.no_sync():
                yield

    def parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.policy.model.parameters() if p.requires_grad]

    # ---- what a checkpoint holds (collectives under fsdp: every rank calls them) --------------------
    def full_state(self) -> dict[str, torch.Tensor] | None:
        """The full weights on rank 0 (CPU) of a sharded model; None when every rank holds them anyway."""
        if not self.sharded:
            return None
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(self.policy.model, options=StateDictOptions(full_state_dict=True,
                                                                                cpu_offload=True))

    def optimizer_state(self, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        """The optimizer's full state as ``optimizer.state_dict()`` keys it (by parameter position), whatever
        the strategy, so a checkpoint resumes under ddp, fsdp or one process alike."""
        if not self.sharded:
            return optimizer.state_dict()
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

        by_name = get_optimizer_state_dict(self.policy.model, optimizer,
                                           options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        return _rekey(by_name, dict(map(reversed, enumerate(self._names()))))  # rank 0's; empty elsewhere

    def load_optimizer_state(self, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
        if not self.sharded:
            optimizer.load_state_dict(state)
            return
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        set_optimizer_state_dict(self.policy.model, optimizer, _rekey(state, dict(enumerate(self._names()))),
                                 options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True))

    def _names(self) -> list[str]:
        """Trainable parameters' names in the optimizer's order (it was built from ``parameters()``)."""
        return [name for name, p in self.policy.model.named_parameters() if p.requires_grad]


def _rekey(state: dict[str, Any], keys: dict) -> dict[str, Any]:
    """An optimizer state dict with its parameter keys mapped through ``keys`` (position <-> name)."""
    if not state:
        return state
    return {"state": {keys[k]: v for k, v in state["state"].items()},
            "param_groups": [{**group, "params": [keys[k] for k in group["params"]]} for group in state["param_groups"]]}


def shard(model: torch.nn.Module) -> None:
    """FSDP2: every decoder layer its own unit (gathered one at a time), then the rest of the model."""
    from torch.distributed.fsdp import fully_shard

    for module in [m for m in model.modules() if type(m).__name__.endswith("DecoderLayer")]:
        fully_shard(module)
    fully_shard(model)


def rank_rows(n: int, rank: int, world_size: int) -> list[int]:
    """Rank ``rank``'s positions in a (length-sorted) mini-batch of ``n`` samples: every world_size-th."""
    return list(range(rank, n, world_size))


def micro_batch_count(n: int, world_size: int, micro_batch_size: int) -> int:
    """Micro-batches every rank runs for a mini-batch of ``n``: enough for the rank with most rows."""
    most = -(-n // world_size)
    return max(1, -(-most // micro_batch_size))
