"""This process's place in a data-parallel run, and the few collectives the trainer needs.

``torchrun`` (or ``accelerate launch``) starts one trainer process per device and sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address; ``init_from_env`` joins the process group
through ``torch.distributed`` (NCCL on GPUs, gloo on CPUs). Without those variables the run is one
process and every helper here is the identity, so the single-process loop is the same code path.
Rollouts are sharded by group (``group_block``), every rank then holds the whole batch
(``gather``), so credit is computed over whole groups and identically on every rank.
"""

from __future__ import annotations

import copy
import datetime
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


@dataclass(frozen=True)
class DistContext:
    """Rank and world size of this process (``DistContext()``: a single-process run)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the run folder (metrics, checkpoints, reports) and prints to the console."""
        return self.rank == 0


SINGLE = DistContext()


def launched() -> bool:
    """Whether a launcher started this process as one of several ranks."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(backend: str | None = None, timeout_s: float = 1800.0) -> DistContext:
    """Join the process group the launcher described in the environment; a single process without one."""
    if not launched():
        return SINGLE
    rank, world, local = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend == "nccl":
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    return DistContext(rank=rank, world_size=world, local_rank=local, backend=backend)


def shutdown(ctx: DistContext, clean: bool = False) -> None:
    """Leave the process group; ``clean``: the run ended normally on every rank, so wait for the others
    first (no rank tears its connections down under a peer's last collective). After an error no rank
    waits: the launcher stops the rest."""
    if ctx.enabled and dist.is_initialized():
        if clean:
            dist.barrier()
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def gather(ctx: DistContext, obj: T) -> list[T]:
    """``obj`` of every rank, in rank order (pickled; for batches and metric dicts, not tensors)."""
    if not ctx.enabled:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def group_block(ctx: DistContext, num_groups: int) -> range:
    """The groups (by index) this rank collects: contiguous blocks, as even as ``num_groups`` allows."""
    base, extra = divmod(num_groups, ctx.world_size)
    start = ctx.rank * base + min(ctx.rank, extra)
    return range(start, start + base + (1 if ctx.rank < extra else 0))


def sharded_map(ctx: DistContext, fn: Callable[[list[T]], None], items: Sequence[T],
                lockstep: bool = False) -> list[T]:
    """``fn`` (which fills fields of its items in place) on this rank's block of ``items``; every rank
    gets all items back, in order. Spreads per-sample work such as reference log-probs over ranks.

    ``lockstep``: every rank's block is made as long as the longest (with copies of an item, whose
    results are dropped), for work whose every model call is a collective (a sharded model).
    """
    if not ctx.enabled:
        fn(list(items))
        return list(items)
    block = group_block(ctx, len(items))
    mine = list(items[block.start:block.stop])
    longest = -(-len(items) // ctx.world_size)  # rank 0's block, the longest
    padding = [copy.deepcopy(items[0]) for _ in range(longest - len(mine))] if lockstep and items else []
    fn(mine + padding)
    return [item for part in gather(ctx, mine) for item in part]


def reduce_metrics(ctx: DistContext, metrics: dict[str, float], sum_keys: Sequence[str] = ()) -> dict[str, float]:
    """One dict for the run from every rank's (``combine_metrics``)."""
    return combine_metrics(gather(ctx, metrics), sum_keys) if ctx.enabled else dict(metrics)


def sum_metrics(ctx: DistContext, metrics: dict[str, float]) -> dict[str, float]:
    """Every key added up over the ranks (a key a rank lacks counts 0): shares of one whole."""
    if not ctx.enabled:
        return dict(metrics)
    parts = gather(ctx, metrics)
    return {key: sum(part.get(key, 0.0) for part in parts) for key in dict.fromkeys(k for p in parts for k in p)}


def combine_metrics(parts: Sequence[dict[str, float]], sum_keys: Sequence[str] = ()) -> dict[str, float]:
    """``time/`` and ``*_max`` keys take the largest, ``sum_keys`` add up, the rest average over the
    ranks that report them (NaN, "no value", is left out)."""
    out: dict[str, float] = {}
    for key in dict.fromkeys(k for part in parts for k in part):
        values = [float(part[key]) for part in parts if key in part and part[key] == part[key]]
        if not values:
            out[key] = float("nan")
        elif key.startswith("time/") or key.endswith("_max"):
            out[key] = max(values)
        elif key in sum_keys:
            out[key] = sum(values)
        else:
            out[key] = sum(values) / len(values)
    return out
