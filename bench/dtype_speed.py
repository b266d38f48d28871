"""float32 against bfloat16 for a pretrained model on this CPU: decoded tokens/s of generation and tokens/s of
a full update step (teacher-forced score with entropy, backward, AdamW), both dtypes in one run.

    python bench/dtype_speed.py [--model HuggingFaceTB/SmolLM2-135M-Instruct] [--batch 8] [--new-tokens 32]
                                [--repeats 3] [--json PATH]

The model is resolved as the trainer resolves ``--model`` (a hub id with no hub access comes from its
installed package, ``policies.pretrained``). Prompts are FrozenLake-v1 expert prompts in the model's own
chat template; responses the expert's formatted actions. Generation samples exactly ``--new-tokens``
tokens (EOS disabled). The two dtypes alternate within every repeat, so a change of machine load
falls on both; each figure is the best of the repeats. Also prints whether the CPU reports AMX/AVX512-BF16.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from agentgym.core.policy import SamplingParams
from agentgym.rollout.episode import EpisodeSettings
from agentgym.sft.data import collect_examples
from policies.cpu_bf16 import cpu_bf16_flags
from policies.hf import HFPolicy
from policies.pretrained import resolve

DTYPES = ("float32", "bfloat16")


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def update_step(policy: HFPolicy, optimizer, prompt_ids, response_ids) -> None:
    logp, _, mask = policy.score(prompt_ids, response_ids, with_entropy=True)
    loss = -(logp * mask).sum() / mask.sum()
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M-Instruct",
                        help="model folder, hub id or .gguf file (resolved as --model of the trainer)")
    parser.add_argument("--batch", type=int, default=8, help="sequences per generate call and per update step")
    parser.add_argument("--new-tokens", type=int, default=32, help="tokens decoded per sequence")
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds; each figure is the best")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    folder = resolve(args.model)
    policies = {d: HFPolicy.from_pretrained(folder, dtype=d, device="cpu") for d in DTYPES}
    examples = collect_examples(EpisodeSettings(env="agentgym/FrozenLake-v1"), 8, seed=0)
    examples = (examples * (args.batch // len(examples) + 1))[:args.batch]
    prompts = [e.messages for e in examples]
    any_policy = policies[DTYPES[0]]
    prompt_ids = any_policy.encode_prompts(prompts)
    response_ids = [any_policy.encode_response(e.response) for e in examples]
    for policy in policies.values():
        policy.eos_ids = [-1]  # decode exactly --new-tokens tokens (responses above keep their real EOS)
    optimizers = {d: torch.optim.AdamW(p.model.parameters(), lr=1e-6) for d, p in policies.items()}
    sampling = SamplingParams(temperature=1.0, max_new_tokens=args.new_tokens)
    for d, policy in policies.items():  # warm-up: first calls allocate
        policy.generate(prompts[:1], SamplingParams(temperature=1.0, max_new_tokens=2))
        policy.model.train()
        update_step(policy, optimizers[d], prompt_ids[:1], response_ids[:1])
    best = {d: {"generate_s": float("inf"), "update_s": float("inf")} for d in DTYPES}
    for _ in range(args.repeats):
        for d, policy in policies.items():
            policy.model.eval()
            best[d]["generate_s"] = min(best[d]["generate_s"], timed(lambda p=policy: p.generate(prompts, sampling)))
            policy.model.train()
            best[d]["update_s"] = min(best[d]["update_s"], timed(
                lambda p=policy, o=optimizers[d]: update_step(p, o, prompt_ids, response_ids)))
    decoded = args.batch * args.new_tokens
    update_tokens = sum(map(len, prompt_ids)) + sum(map(len, response_ids))
    figures = {"model": args.model, "folder": folder, "batch": args.batch, "new_tokens": args.new_tokens,
               "repeats": args.repeats, "threads": torch.get_num_threads(), "cpu_flags": cpu_bf16_flags(),
               "load_average": os.getloadavg()[0], "update_tokens": update_tokens}
    print(f"{args.model}: batch {args.batch}, {args.new_tokens} new tokens, best of {args.repeats}, "
          f"{torch.get_num_threads()} threads, CPU bf16 flags {figures['cpu_flags'] or 'none'}, "
          f"load average {figures['load_average']:.1f}")
    print(f"{'dtype':>9} {'decoded tok/s':>14} {'update tok/s':>13}")
    for d in DTYPES:
        figures[d] = {"decoded_tok_s": decoded / best[d]["generate_s"], "update_tok_s": update_tokens / best[d]["update_s"]}
        print(f"{d:>9} {figures[d]['decoded_tok_s']:>14.1f} {figures[d]['update_tok_s']:>13.1f}")
    ratio_gen = figures["bfloat16"]["decoded_tok_s"] / figures["float32"]["decoded_tok_s"]
    ratio_upd = figures["bfloat16"]["update_tok_s"] / figures["float32"]["update_tok_s"]
    figures["bf16_over_fp32"] = {"generate": ratio_gen, "update": ratio_upd}
    print(f"bfloat16 / float32: generation {ratio_gen:.2f}x, update {ratio_upd:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
