"""float32 LoRA adapters on a bfloat16 base: the update step with peft's own float32 casts against
``policies.adapter_precision`` (autocast to bfloat16, float32 master weights), in one run.

    python bench/lora_precision.py [--model runs/smollm2_sft] [--batch 8] [--repeats 3]

Prompts are FrozenLake-v1 expert prompts in the model's chat template, responses the expert's actions.
Prints the best-of-repeats time of one update step (teacher-forced score, backward) each way, the
speed-up, the largest log-prob gap between the two and the cosine between their adapter gradients.
The lora_B weights get small random values first, so the adapters change the outputs (fresh ones are 0).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

import torch

from agentgym.rollout.episode import EpisodeSettings
from agentgym.sft.data import collect_examples
from policies import hf
from policies.adapter_precision import adapter_autocast
from policies.hf import HFPolicy
from policies.pretrained import resolve


def update_step(policy: HFPolicy, prompt_ids, response_ids) -> torch.Tensor:
    logp, _, mask = policy.score(prompt_ids, response_ids)
    (-(logp * mask).sum() / mask.sum()).backward()
    return logp.detach()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M-Instruct",
                        help="model folder, hub id or .gguf file (resolved as --model of the trainer)")
    parser.add_argument("--batch", type=int, default=8, help="sequences per update step")
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds; each figure is the best")
    args = parser.parse_args()
    torch.manual_seed(0)  # the adapters' random lora_A
    policy = HFPolicy.from_pretrained(resolve(args.model), dtype="bfloat16", device="cpu", lora=True)
    for name, param in policy.model.named_parameters():
        if "lora_B" in name:
            param.data.normal_(0, 0.02)
    examples = collect_examples(EpisodeSettings(env="agentgym/FrozenLake-v1"), args.batch, seed=0)
    examples = (examples * (args.batch // len(examples) + 1))[:args.batch]
    prompt_ids = policy.encode_prompts([e.messages for e in examples])
    response_ids = [policy.encode_response(e.response) for e in examples]
    modes = {"peft float32 casts": lambda model: contextlib.nullcontext(), "autocast bfloat16": adapter_autocast}
    best, logps, grads = {}, {}, {}
    for _ in range(args.repeats + 1):  # the first round warms up and is not timed
        for mode, context in modes.items():
            hf.adapter_autocast = context  # the context HFPolicy.score enters around the model
            start = time.perf_counter()
            logps[mode] = update_step(policy, prompt_ids, response_ids)
            elapsed = time.perf_counter() - start
            if mode in grads:
                best[mode] = min(best.get(mode, float("inf")), elapsed)
            grads[mode] = torch.cat([p.grad.flatten() for p in policy.model.parameters() if p.grad is not None])
            policy.model.zero_grad(set_to_none=True)
    hf.adapter_autocast = adapter_autocast
    a, b = modes
    tokens = sum(map(len, prompt_ids)) + sum(map(len, response_ids))
    print(f"{args.model}: batch {args.batch} ({tokens} tokens), best of {args.repeats}, "
          f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}")
    for mode in modes:
        print(f"{mode:>20}: update step {best[mode]:.3f} s, {tokens / best[mode]:.0f} tokens/s")
    cosine = torch.nn.functional.cosine_similarity(grads[a], grads[b], dim=0).item()
    real = torch.zeros_like(logps[a], dtype=torch.bool)  # response tokens, not the padding after them
    for i, row in enumerate(response_ids):
        real[i, :len(row)] = True
    gap = (logps[a] - logps[b]).abs()[real]
    print(f"speed-up {best[a] / best[b]:.2f}x; log-prob gap per response token: mean {gap.mean().item():.4f}, "
          f"max {gap.max().item():.4f}; adapter gradient cosine {cosine:.5f}")


if __name__ == "__main__":
    main()
