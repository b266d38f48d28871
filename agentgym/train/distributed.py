"""This process's place in a data-parallel run, and the few collectives the trainer needs.

``torchrun`` (or ``accelerate launch``) starts one trainer process per device and sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address; ``init_from_env`` joins the process group
through ``torch.distributed`` (NCCL on GPUs, gloo on CPUs). Without those variables the run is one
process and every helper here is the identity, so the single-process loop is the same code path.
Rollouts are sharded by group (``group_block``), every rank then holds the whole batch
(``gather``), so credit is computed over whole groups and identically on every rank.

Two timeouts, because two kinds of wait. Lockstep collectives (gathering the batch and the metrics,
``sharded_map``, DDP's gradient all-reduce, FSDP's gathers) run on groups with the short
``collective_timeout_s``: every rank arrives after the same kind of work, so a long wait there means a
rank is frozen, and the run stops with ``RankTimeout`` rather than hanging. Waits for work one rank
does alone (rank 0's held-out checks, checkpoint and final-policy writes, clearing the run folder,
building the default model) use ``solo_work_barrier``, on a gloo group of their own with the long
``dist_timeout_s``. The pickled objects of ``gather`` and ``barrier`` go over a gloo group too, with
the short timeout, on every backend: on GPUs the default group is NCCL, whose timeout its watchdog
enforces by ending the process itself, and the usual place a frozen rank is noticed (the batch
gather after rollouts) should still end in ``RankTimeout``.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
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
    collective_timeout_s: float = 600.0  # lockstep collectives (the default group and ``lockstep_group``)
    dist_timeout_s: float = 1800.0  # waits for work one rank does alone (``solo_group``)
    lockstep_group: Any = field(default=None, compare=False, repr=False)  # gloo, for objects: collective_timeout_s
    solo_group: Any = field(default=None, compare=False, repr=False)  # gloo, with dist_timeout_s

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


def init_from_env(backend: str | None = None, collective_timeout_s: float = 600.0,
                  dist_timeout_s: float = 1800.0) -> DistContext:
    """Join the process group the launcher described in the environment; a single process without one.

    The default group (DDP's and FSDP's tensors) and a gloo group for the pickled objects ``gather``
    exchanges time out after ``collective_timeout_s``; another gloo group, with ``dist_timeout_s``,
    carries the waits for one rank's solo work.
    """
    if not launched():
        return SINGLE
    rank, world, local = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend == "nccl":
        torch.cuda.set_device(local)
    short, long = (datetime.timedelta(seconds=s) for s in (collective_timeout_s, dist_timeout_s))
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=short)
    # every rank creates the groups, in the same order (new_group is itself a collective)
    lockstep = dist.new_group(backend="gloo", timeout=short)
    solo = dist.new_group(backend="gloo", timeout=long)
    return DistContext(rank=rank, world_size=world, local_rank=local, backend=backend,
                       collective_timeout_s=collective_timeout_s, dist_timeout_s=dist_timeout_s,
                       lockstep_group=lockstep, solo_group=solo)


def shutdown(ctx: DistContext, clean: bool = False) -> None:
    """Leave the process group; ``clean``: the run ended normally on every rank, so wait for the others
    first (rank 0 may still be writing the final policy and summary; no rank tears its connections down
    under a peer's last collective). After an error no rank waits: the launcher stops the rest."""
    if ctx.enabled and dist.is_initialized():
        if clean:
            solo_work_barrier(ctx)
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    """Every rank here, after the same kind of work (``collective_timeout_s``)."""
    if ctx.enabled:
        with timeouts_explained(ctx):
            dist.barrier(group=ctx.lockstep_group)


def solo_work_barrier(ctx: DistContext) -> None:
    """Every rank here, while one of them works alone (rank 0's held-out checks, a checkpoint, the run
    folder): waits up to ``dist_timeout_s``, on a group of its own, so the short lockstep timeout never
    cuts a long evaluation short."""
    if ctx.enabled:
        with timeouts_explained(ctx, solo=True):
            dist.barrier(group=ctx.solo_group)


def gather(ctx: DistContext, obj: T) -> list[T]:
    """``obj`` of every rank, in rank order (pickled; for batches and metric dicts, not tensors)."""
    if not ctx.enabled:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    with timeouts_explained(ctx):
        dist.all_gather_object(out, obj, group=ctx.lockstep_group)
    return out


# ----------------------------------------------------------------------- a collective that timed out
# gloo: "Timed out waiting 20000ms for recv operation to complete"; NCCL (with TORCH_NCCL_BLOCKING_WAIT=1):
# "Watchdog caught collective operation timeout: WorkNCCL(...) ran for 600000 milliseconds before timing out"
TIMEOUT_TEXT = re.compile(r"Timed out waiting \d+ ?ms for \w+ operation|collective operation timeout|"
                          r"milliseconds before timing out")


class RankTimeout(RuntimeError):
    """A collective waited out its timeout: most likely another rank is frozen."""


def is_collective_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is torch.distributed's own report of a collective that waited out its timeout (gloo
    raises a plain RuntimeError, NCCL a DistBackendError, a RuntimeError too)."""
    return isinstance(exc, RuntimeError) and not isinstance(exc, RankTimeout) and bool(TIMEOUT_TEXT.search(str(exc)))


@contextlib.contextmanager
def timeouts_explained(ctx: DistContext, solo: bool = False) -> Iterator[None]:
    """Inside, a collective that times out raises ``RankTimeout`` with what it means and which option to
    raise (``solo``: a wait for one rank's solo work; else a lockstep collective, DDP's included)."""
    try:
        yield
    except RuntimeError as exc:
        if not (ctx.enabled and is_collective_timeout(exc)):
            raise
        raise RankTimeout(timeout_message(ctx, solo)) from exc


def timeout_message(ctx: DistContext, solo: bool = False) -> str:
    cause = ("most likely a rank is frozen (stopped, stuck in a hung kernel or a deadlocked environment) or cut off "
             "from the others; a rank that crashes or is killed ends the run through torchrun at once")
    if solo:
        return (f"rank {ctx.rank} of {ctx.world_size} waited dist_timeout_s={ctx.dist_timeout_s:g} s for work one "
                f"rank does alone (rank 0's held-out checks, a checkpoint or the final policy, the run folder or the "
                f"default model) and gave up: {cause}. If that work is only slow (a long evaluation, a slow disk), "
                f"raise --dist-timeout-s.")
    return (f"rank {ctx.rank} of {ctx.world_size} waited collective_timeout_s={ctx.collective_timeout_s:g} s at a "
            f"training collective (gathering the batch or metrics, the gradient all-reduce) and gave up: {cause}. "
            f"If no rank is stuck but they drift this far apart (one rank's rollouts run that much longer: long "
            f"episodes, a slow engine or environment), raise --collective-timeout-s.")


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
