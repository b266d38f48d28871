"""Run with a Python that has vLLM (``scripts/vllm_cpu_venv.sh`` makes one): rollouts on an in-process vLLM
engine match transformers greedy decoding before an update and, after ``load``, after it.

    python tests/policies/vllm_engine_check.py MODEL_DIR cpu|cuda [lora]   # prints one JSON line

``lora``: the trained policy is the model with fresh LoRA adapters; only the adapters train and sync.
"""

import json
import os
import sys

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; the default takes several


def update_towards_one_response(trained, prompts, lora: bool) -> None:
    """An update: a few SGD steps toward one response on every prompt, so greedy decoding changes
    (LoRA adapters start at zero and take a larger step)."""
    import torch

    optimizer = torch.optim.SGD([p for p in trained.model.parameters() if p.requires_grad], lr=2.0 if lora else 0.5)
    target = [trained.encode_response("<action>west</action>")] * len(prompts)
    prompt_ids = trained.encode_prompts(prompts)
    for _ in range(5):
        optimizer.zero_grad()
        logp, _, mask = trained.score(prompt_ids, target)
        (-(logp * mask).sum() / mask.sum()).backward()
        optimizer.step()


def main(folder: str, device: str, lora: bool = False) -> dict:
    import torch

    from agentgym.core.policy import SamplingParams
    from agentgym.rollout.prompts import build_messages
    from policies.engines.vllm_engine import VLLMEngine
    from policies.hf import HFPolicy

    torch.manual_seed(0)
    trained = HFPolicy.from_pretrained(folder, device=device, lora={"r": 8, "lora_alpha": 16} if lora else None)
    engine = VLLMEngine(trained, folder, version=0, enforce_eager=True, max_model_len=512, seed=0)
    prompts = [build_messages("Reach the goal at row 4, column 4.", f"You are at row {r}, column {c}.", (),
                              ["north", "south", "east", "west"]) for r in range(1, 5) for c in range(1, 5)]
    greedy = SamplingParams(greedy=True, max_new_tokens=8)

    def compare() -> dict:
        got, want = engine.generate(prompts, greedy), trained.generate(prompts, greedy)
        gaps = [abs(a - b) for g, w in zip(got, want) if g.token_ids == w.token_ids
                for a, b in zip(g.logprobs, w.logprobs)]
        return {"match": sum(g.token_ids == w.token_ids for g, w in zip(got, want)) / len(prompts),
                "max_logprob_gap": max(gaps, default=float("nan")), "versions": sorted({g.policy_version for g in got}),
                "tokens": [g.token_ids for g in got]}

    before = compare()
    update_towards_one_response(trained, prompts, lora)
    stale = [g.token_ids for g in engine.generate(prompts, greedy)]
    engine.load(engine.snapshot(trained), 1)
    after = compare()
    synced = engine.snapshot(trained)
    return {"before": before, "after": after, "stale_equals_after": stale == after["tokens"],
            "changed_by_update": before["tokens"] != after["tokens"],
            "adapter_only": bool(getattr(synced, "adapter_only", False))}


if __name__ == "__main__":
    result = main(sys.argv[1], sys.argv[2], lora=sys.argv[3:] == ["lora"])
    for part in ("before", "after"):
        result[part].pop("tokens")
    print(json.dumps(result))
