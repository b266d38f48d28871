"""Time GiGPO and HGPO against GRPO advantage computation on realistic step batches; prints a table.

Batches: groups of 8 rollouts of one task, 20-50 steps each, states drawn from a random walk over a
small per-task state graph (so anchors repeat, as in ALFWorld), ALFWorld-length observation text as
``state_key`` (a distinct string object per row), sparse success reward, rows shuffled (estimators must
not rely on order).

    python bench/credit_overhead.py                       # 1k, 10k, 100k, 1M steps
    python bench/credit_overhead.py --sizes 1000 10000 --similarity 0.9 --iteration-seconds 360 --json out.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from agentgym import StepBatch, credit

ROOM_TEXT = ("You are in the middle of a room. Looking quickly around you, you see a cabinet 1, a cabinet 2, "
             "a countertop 1, a drawer 1, a fridge 1, a garbagecan 1, a microwave 1, a shelf 1, a sinkbasin 1, "
             "a stoveburner 1 and a toaster 1.")


def make_batch(n_steps: int, group_size: int = 8, n_states: int = 40, seed: int = 0) -> StepBatch:
    """About ``n_steps`` rows of grouped rollouts with repeated anchor states."""
    rng = np.random.default_rng(seed)
    lengths = []
    while sum(lengths) < n_steps:
        lengths.append(int(rng.integers(20, 51)))
    lengths = np.asarray(lengths)
    traj = np.repeat(np.arange(len(lengths)), lengths)
    group = traj // group_size
    t = np.arange(len(traj)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    # random walk: each step moves to a neighbouring state id (mod n_states) or stays
    moves = rng.integers(-1, 2, size=len(traj))
    moves[t == 0] = 0
    walk = np.cumsum(moves)
    walk -= np.repeat(walk[np.cumsum(lengths) - lengths], lengths)
    state = np.mod(walk, n_states)
    reward = np.zeros(len(traj))
    reward[np.cumsum(lengths) - 1] = (rng.random(len(lengths)) < 0.5).astype(float)
    order = rng.permutation(len(traj))
    pool = [f"Task {g}. State {s}. {ROOM_TEXT}" for g in range(int(group.max()) + 1) for s in range(n_states)]
    # one fresh string object per row, created in row order as a trainer recording observations would
    keys = np.empty(len(traj), dtype=object)
    keys[:] = [(pool[i] + ".")[:-1] for i in (group * n_states + state)[order].tolist()]
    return StepBatch(group_id=group[order], traj_id=traj[order], t=t[order], reward=reward[order],
                     state_key=keys, entropy=np.full(len(traj), np.nan))


def best_time(fn, repeats: int) -> tuple[float, float]:
    """Best (wall, process CPU) seconds over ``repeats`` calls; CPU time is the steadier figure on a busy machine."""
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--similarity", type=float, default=None,
                        help="also time GiGPO with similarity_thresh (sizes up to 100k)")
    parser.add_argument("--iteration-seconds", type=float, default=None,
                        help="a measured training-iteration time, to print GiGPO's share of it")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    grpo, gigpo, hgpo = credit.get("grpo"), credit.get("gigpo"), credit.get("hgpo")
    header = (f"{'steps':>9} {'grpo s':>9} {'gigpo s':>9} {'gigpo cpu s':>11} {'gigpo/grpo':>10} {'singleton%':>10}"
              f" {'hgpo s':>9}")
    header += f" {'gigpo-sim s':>11}" if args.similarity else ""
    header += f" {'share of iter':>13}" if args.iteration_seconds else ""
    print(header)
    rows = []
    for size in args.sizes:
        batch = make_batch(size)
        t_grpo, _ = best_time(lambda b=batch: grpo(b), args.repeats)
        t_gigpo, cpu_gigpo = best_time(lambda b=batch: gigpo(b), args.repeats)
        t_hgpo, _ = best_time(lambda b=batch: hgpo(b), args.repeats)  # history_len 2: three levels
        diag = credit.DIAGNOSTICS.get("gigpo")(batch, gigpo(batch))
        rows.append({"steps": len(batch), "grpo_s": t_grpo, "gigpo_s": t_gigpo, "gigpo_cpu_s": cpu_gigpo,
                     "hgpo_s": t_hgpo, "singleton_frac": float(diag["credit/step_group_singleton_frac"])})
        row = (f"{len(batch):>9} {t_grpo:>9.4f} {t_gigpo:>9.4f} {cpu_gigpo:>11.4f} {t_gigpo / t_grpo:>10.1f} "
               f"{100 * diag['credit/step_group_singleton_frac']:>10.1f} {t_hgpo:>9.4f}")
        if args.similarity:
            if size <= 100_000:
                t_sim, _ = best_time(lambda b=batch: gigpo(b, similarity_thresh=args.similarity), 1)
                row += f" {t_sim:>11.3f}"
                rows[-1]["gigpo_similarity_s"] = t_sim
            else:
                row += f" {'-':>11}"
        if args.iteration_seconds:
            row += f" {100 * t_gigpo / args.iteration_seconds:>12.4f}%"
        print(row)
    if args.json:
        args.json.write_text(json.dumps({"repeats": args.repeats, "similarity": args.similarity, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
