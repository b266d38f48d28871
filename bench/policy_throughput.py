"""Throughput of the transformers policy on the tiny model: generation at batch 1/8/64 versus the raw
``model.generate`` call on the same inputs, and teacher-forced training-step tokens/s.

    python bench/policy_throughput.py [--model DIR] [--new-tokens 32] [--repeats 3] [--threads N] [--json PATH]

Both sides decode exactly ``--new-tokens`` tokens greedily (EOS disabled on both) from the same
left-padded FrozenLake prompts, so the difference is the wrapper's own cost: chat templating,
per-token log-probs and entropies, bookkeeping. Prints a table; numbers depend on the machine load.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from agentgym.core.policy import SamplingParams
from agentgym.rollout.episode import EpisodeSettings
from agentgym.sft.trainer import collect_examples
from agentgym.util.padding import left_pad
from policies.hf import HFPolicy
from policies.tiny import build_tiny_model, count_parameters


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def raw_generate(policy: HFPolicy, prompt_ids: list[list[int]], new_tokens: int) -> None:
    ids, mask = left_pad(prompt_ids, policy.tokenizer.pad_token_id, policy.device)
    with torch.inference_mode():
        policy.model.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=new_tokens,
                              min_new_tokens=new_tokens, pad_token_id=policy.tokenizer.pad_token_id)


def train_step(policy: HFPolicy, prompt_ids, response_ids) -> None:
    logp, ent, mask = policy.score(prompt_ids, response_ids, with_entropy=True)
    loss = -(logp * mask).sum() / mask.sum()
    loss.backward()
    policy.model.zero_grad(set_to_none=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="model folder (default: build an untrained tiny model)")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model_dir = args.model or str(build_tiny_model(tempfile.mkdtemp(prefix="tiny-bench-")))
    policy = HFPolicy.from_pretrained(model_dir, device="cpu" if not torch.cuda.is_available() else None)
    examples = collect_examples(EpisodeSettings(env="agentgym/FrozenLake-v0"), 40, seed=0, explore=0.25)
    response_ids = [policy.encode_response(e.response) for e in examples]
    policy.eos_ids = [-1]  # never stop early: both sides decode exactly --new-tokens tokens
    prompts = [e.messages for e in examples]
    sampling = SamplingParams(greedy=True, max_new_tokens=args.new_tokens)
    print(f"model {model_dir}: {count_parameters(policy.model) / 1e6:.2f}M params, torch threads "
          f"{torch.get_num_threads()}, {args.new_tokens} new tokens, best of {args.repeats}")
    figures = {"model": model_dir, "params": count_parameters(policy.model), "device": str(policy.device),
               "threads": torch.get_num_threads(), "new_tokens": args.new_tokens, "repeats": args.repeats,
               "generate": []}
    print(f"{'batch':>5} {'prompt tok':>10} {'policy tok/s':>13} {'raw generate tok/s':>19} {'overhead':>9}")
    for batch in (1, 8, 64):
        chunk = (prompts * (batch // len(prompts) + 1))[:batch]
        prompt_ids = policy.encode_prompts(chunk)
        policy.generate(chunk[:1], SamplingParams(greedy=True, max_new_tokens=2))  # warm-up
        t_policy = best_of(args.repeats, lambda c=chunk: policy.generate(c, sampling))
        t_raw = best_of(args.repeats, lambda p=prompt_ids: raw_generate(policy, p, args.new_tokens))
        tokens = batch * args.new_tokens
        mean_prompt = sum(map(len, prompt_ids)) / batch
        figures["generate"].append({"batch": batch, "prompt_tokens": mean_prompt, "policy_tok_s": tokens / t_policy,
                                    "raw_tok_s": tokens / t_raw, "overhead": t_policy / t_raw - 1})
        print(f"{batch:>5} {mean_prompt:>10.0f} {tokens / t_policy:>13.1f} {tokens / t_raw:>19.1f} "
              f"{100 * (t_policy / t_raw - 1):>8.1f}%")
    batch = 32
    prompt_ids = policy.encode_prompts(prompts[:batch])
    response_ids = response_ids[:batch]
    seen = sum(map(len, prompt_ids)) + sum(map(len, response_ids))
    policy.model.train()
    t_train = best_of(args.repeats, lambda: train_step(policy, prompt_ids, response_ids))
    print(f"training step (score with entropy + backward), batch {batch}: {seen / t_train:.0f} tokens/s "
          f"({sum(map(len, response_ids)) / t_train:.0f} response tokens/s, {t_train:.2f} s/step)")
    figures["train_step"] = {"batch": batch, "tok_s": seen / t_train,
                             "response_tok_s": sum(map(len, response_ids)) / t_train, "s_per_step": t_train}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
