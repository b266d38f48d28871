"""Training throughput on one GPU: bf16 training of a Qwen2-shaped, randomly initialised ~0.5B model.

No weights can be downloaded on the GPU machines either, so the model is built here: the tiny
model's tokenizer trained on the environment's prompts, and a random-init decoder with
Qwen2-0.5B's shape (hidden 896, 24 layers, 14 heads of 64, 2 KV heads, MLP 4864, 151936 vocabulary
rows, tied embeddings; no qkv bias). Two training iterations run through the trainer's own loop
(``setup``, the run's batch source, ``train_on_batch``, transformers backend), and each prints rollout
tokens/s (response tokens over the time inside generation), update tokens/s (prompt and response
tokens of the update's samples over its time) and the peak GPU memory. ``bench/gpu_check.sh`` runs it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

QWEN2_05B = {"hidden_size": 896, "num_layers": 24, "num_heads": 14, "num_kv_heads": 2, "intermediate_size": 4864}
QWEN2_VOCAB = 151936


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="agentgym/ALFWorld-v0", help="environment whose prompts are trained on")
    parser.add_argument("--iterations", type=int, default=2, help="training iterations to time")
    parser.add_argument("--num-groups", type=int, default=8, help="tasks per iteration")
    parser.add_argument("--group-size", type=int, default=4, help="rollouts per task")
    parser.add_argument("--max-steps", type=int, default=10, help="step limit of an episode")
    parser.add_argument("--max-new-tokens", type=int, default=48, help="longest response per step")
    parser.add_argument("--micro-batch-size", type=int, default=32, help="samples per forward/backward")
    parser.add_argument("--dtype", default="bfloat16", help="dtype of the trained weights")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    parser.add_argument("--cpu-smoke", action="store_true",
                        help="check the script on a CPU: a 2-layer, hidden-128 model of the same kind, float32")
    return parser.parse_args(argv)


def build_model(folder: Path, env_id: str, small: bool = False) -> int:
    """Tokenizer from ``env_id`` text, random-init Qwen2-0.5B-shaped weights; returns the parameter count."""
    from transformers import AutoModelForCausalLM

    from policies.tiny import TinyConfig, build_tiny_model

    shape = {"hidden_size": 128, "num_layers": 2, "num_heads": 2, "num_kv_heads": 1, "intermediate_size": 384} \
        if small else QWEN2_05B
    build_tiny_model(folder, env_id=env_id, cfg=TinyConfig(vocab_size=8192, max_positions=4096, corpus_episodes=6,
                                                            **shape))
    model = AutoModelForCausalLM.from_pretrained(folder)
    if not small:  # Qwen2's rows; the tokenizer uses the first ones
        model.resize_token_embeddings(QWEN2_VOCAB, mean_resizing=False)
    model.save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def main(argv=None) -> None:
    args = parse(argv)
    import torch

    from agentgym.train.config import TrainConfig
    from agentgym.train.loop import train_on_batch
    from agentgym.train.setup import setup

    gpu = torch.cuda.is_available()
    if not gpu and not args.cpu_smoke:
        raise SystemExit("gpu_check needs a CUDA GPU (torch.cuda.is_available() is False); "
                         "--cpu-smoke checks the script on a CPU")
    with tempfile.TemporaryDirectory() as tmp:
        tick = time.perf_counter()
        parameters = build_model(Path(tmp) / "model", args.env, small=args.cpu_smoke)
        print(f"[gpu_check] model: {parameters / 1e6:.1f}M parameters, built in {time.perf_counter() - tick:.0f} s; "
              f"{torch.cuda.get_device_name() if gpu else 'CPU'}", flush=True)
        config = TrainConfig(env=args.env, model=str(Path(tmp) / "model"),
                             model_dtype="float32" if args.cpu_smoke else args.dtype,
                             run_dir=str(Path(tmp) / "run"), iterations=args.iterations, num_groups=args.num_groups,
                             group_size=args.group_size, max_steps=args.max_steps, max_new_tokens=args.max_new_tokens,
                             micro_batch_size=args.micro_batch_size, eval_every=0, summary_splits=[],
                             summary_baselines=[], checkpoint_every=0, tensorboard=False, progress_bar=False)
        trainer = setup(config)
        rows = []
        try:
            for _ in range(args.iterations):
                if gpu:
                    torch.cuda.reset_peak_memory_stats()
                trajectories, stats, engine_metrics = trainer.batches.next(trainer)
                steps = [s for t in trajectories for s in t.steps]
                metrics = train_on_batch(trainer, trajectories, stats, engine_metrics)
                trainer.iteration += 1
                update_tokens = sum(len(s.prompt_ids) + len(s.response_ids) for s in steps if s.response_ids)
                row = {"iteration": trainer.iteration, "steps": len(steps),
                       "rollout_tokens_per_s": stats.response_tokens / max(stats.policy_s, 1e-9),
                       "update_tokens_per_s": update_tokens / max(metrics["time/update_s"], 1e-9),
                       "mean_prompt_tokens": sum(len(s.prompt_ids) for s in steps) / max(len(steps), 1),
                       "rollout_s": stats.total_s, "update_s": metrics["time/update_s"],
                       "peak_gpu_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if gpu else float("nan")}
                rows.append(row)
                print(f"[gpu_check] iteration {row['iteration']}: {row['steps']} steps, "
                      f"rollout {row['rollout_tokens_per_s']:.0f} tokens/s ({row['rollout_s']:.1f} s), "
                      f"update {row['update_tokens_per_s']:.0f} tokens/s ({row['update_s']:.1f} s), "
                      f"prompts {row['mean_prompt_tokens']:.0f} tokens, peak GPU memory "
                      f"{row['peak_gpu_memory_gib']:.1f} GiB", flush=True)
        finally:
            trainer.close()
    if args.json:
        Path(args.json).write_text(json.dumps({"parameters": parameters, "env": args.env, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
