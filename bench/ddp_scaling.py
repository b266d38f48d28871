"""Update throughput of data-parallel training at world size 1 and 2 (``torchrun``, gloo on CPU).

The same global batch (``--samples`` step samples of ``--prompt-tokens`` + ``--response-tokens``
tokens, random ids) is trained with ``agentgym.train.update.ppo_update`` at each world size, on a
randomly initialised model of the tiny model's family; each world size gets the same cores in
all (``--threads`` threads in one process, or split between the ranks). Prints update tokens/s
per world size and strategy (DDP, FSDP2) and their ratio to the first, measured in one run.

    python bench/ddp_scaling.py                       # world sizes 1 and 2, ddp and fsdp, on this machine
    python bench/ddp_scaling.py --world-sizes 1,2,4 --threads 8 --hidden 512 --layers 8
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world-sizes", default="1,2", help="comma-separated world sizes to measure")
    parser.add_argument("--strategies", default="ddp,fsdp", help="data_parallel strategies at world sizes > 1")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2,
                        help="CPU threads per measurement, split evenly between the ranks")
    parser.add_argument("--samples", type=int, default=128, help="step samples in the global batch")
    parser.add_argument("--prompt-tokens", type=int, default=160, help="prompt length of every sample")
    parser.add_argument("--response-tokens", type=int, default=24, help="response length of every sample")
    parser.add_argument("--mini-batch-size", type=int, default=64, help="global mini-batch (optimizer step)")
    parser.add_argument("--micro-batch-size", type=int, default=16, help="samples per forward/backward, per rank")
    parser.add_argument("--hidden", type=int, default=256, help="hidden size of the model (head size 64)")
    parser.add_argument("--layers", type=int, default=4, help="decoder layers of the model")
    parser.add_argument("--repeats", type=int, default=3, help="timed updates per world size (after one warm-up)")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # model folder: run as one rank
    parser.add_argument("--strategy", default="ddp", help=argparse.SUPPRESS)  # of the worker
    return parser.parse_args(argv)


def build_model(folder: Path, hidden: int, layers: int) -> None:
    from policies.tiny import TinyConfig, build_tiny_model

    build_tiny_model(folder, cfg=TinyConfig(hidden_size=hidden, num_layers=layers, num_heads=hidden // 64,
                                            num_kv_heads=max(1, hidden // 128), intermediate_size=3 * hidden,
                                            corpus_episodes=20))


def worker(args: argparse.Namespace) -> None:
    """One rank: the same fixed batch on every rank, ``repeats`` timed updates; rank 0 prints JSON."""
    import torch

    from agentgym.train.config import TrainConfig
    from agentgym.train.data_parallel import DataParallel
    from agentgym.train.distributed import barrier, init_from_env, shutdown
    from agentgym.train.update import UpdateSample, ppo_update
    from policies.hf import HFPolicy

    ctx = init_from_env()
    policy = HFPolicy.from_pretrained(args.worker)
    parallel = DataParallel(policy, ctx, args.strategy)
    vocab = len(policy.tokenizer)
    gen = torch.Generator().manual_seed(0)
    samples = [UpdateSample(torch.randint(3, vocab, (args.prompt_tokens,), generator=gen).tolist(),
                            torch.randint(3, vocab, (args.response_tokens,), generator=gen).tolist(),
                            [-1.0] * args.response_tokens, float(torch.randn(1, generator=gen)))
               for _ in range(args.samples)]
    settings = TrainConfig(mini_batch_size=args.mini_batch_size, micro_batch_size=args.micro_batch_size)
    optimizer = torch.optim.AdamW(parallel.parameters(), lr=1e-5)
    times = []
    for repeat in range(args.repeats + 1):
        barrier(ctx)
        tick = time.perf_counter()
        ppo_update(policy, optimizer, samples, settings, torch.Generator().manual_seed(repeat), parallel=parallel)
        barrier(ctx)
        times.append(time.perf_counter() - tick)
    if ctx.is_main:
        tokens = args.samples * (args.prompt_tokens + args.response_tokens)
        best = min(times[1:])
        print(json.dumps({"world_size": ctx.world_size, "strategy": args.strategy if ctx.enabled else "-",
                          "update_s": best, "tokens_per_s": tokens / best,
                          "parameters": sum(p.numel() for p in policy.model.parameters())}), flush=True)
    shutdown(ctx)


def measure(world_size: int, strategy: str, model: Path, args: argparse.Namespace, argv: list[str]) -> dict:
    threads = max(1, args.threads // world_size)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE"}
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={world_size}"]
                if world_size > 1 else [sys.executable])
    out = subprocess.run([*launcher, __file__, *argv, "--worker", str(model), "--strategy", strategy], env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"world size {world_size} failed:\n{out.stderr[-3000:]}")
    row = json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])
    return {**row, "threads_per_rank": threads}


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    if args.worker:
        worker(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model"
        build_model(model, args.hidden, args.layers)
        rows = [measure(int(w), strategy, model, args, argv) for w in args.world_sizes.split(",")
                for strategy in (args.strategies.split(",") if int(w) > 1 else ["ddp"])]
    base = rows[0]["tokens_per_s"]
    print(f"update of {args.samples} samples x {args.prompt_tokens + args.response_tokens} tokens, "
          f"{rows[0]['parameters'] / 1e6:.1f}M parameters, {args.threads} threads in all (load "
          f"{os.getloadavg()[0]:.2f})")
    for row in rows:
        print(f"world size {row['world_size']} {row['strategy']:>4} ({row['threads_per_rank']} threads/rank): "
              f"{row['tokens_per_s']:8.0f} update tokens/s  ({row['update_s']:.2f} s)  "
              f"ratio to world size {rows[0]['world_size']}: {row['tokens_per_s'] / base:.2f}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
