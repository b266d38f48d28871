"""Rollout generation on a CPU, engine by engine: transformers in process, the CPU build of vLLM (its own venv)
in process, and the project's server over HTTP, float32 and bfloat16, batches 1-128, in one run.

    python bench/generation_engines.py [--model HuggingFaceTB/SmolLM2-135M-Instruct] [--engines hf,vllm,server]
        [--dtypes float32,bfloat16] [--batches 1,8,32,128] [--new-tokens 32] [--json PATH]

The prompts are fixed and real: FrozenLake-v1 prompts of the expert with 25% random moves (multi-turn
histories), in the model's chat template, tokenised once here by the trained policy's tokenizer; every
engine gets the same token ids, as in training. Each (engine, dtype) runs in a worker process of its own
(vLLM under ``--vllm-python``), whose peak RSS the kernel reports when it ends (``os.wait4``; the server
worker reaps its server, so the server counts too). Per batch size a worker times

* ``prefill``: a call with ``max_new_tokens=1`` (prompt tokens / seconds);
* ``step``: a call with ``--new-tokens``, greedy, stopping at EOS as a rollout step does (seconds);
  ``step tok/s`` is the tokens it decoded over its whole time, prefill included (what a rollout sees), and
* ``decode``: the tokens decoded after the first, divided by the time ``step`` took beyond ``prefill``
  ("-" where noise made the two timings too close to subtract).

Greedy outputs are compared with the transformers engine's at the same dtype (``match``: share of prompts
with identical token ids), so the table also shows which engine keeps sampling exact. Figures depend on the
machine's load; the script prints it. ``--repeats`` > 1 keeps each figure's best.
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
ENGINES = ("hf", "vllm", "server")


# ---- the worker: one engine, one dtype ------------------------------------------------------------------

def _hf_generate(folder: str, dtype: str, threads: int):
    import torch

    from policies.hf import HFPolicy

    torch.set_num_threads(threads)
    policy = HFPolicy.from_pretrained(folder, dtype=dtype, device="cpu")
    return policy.generate_ids, lambda: None


def _vllm_generate(folder: str, dtype: str, threads: int):
    from policies.engines.vllm_engine import in_process_defaults

    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", f"0-{threads - 1}")  # --threads cores, not every allowed one
    in_process_defaults()  # as a training run's engine has it (KV cache size, in process, torch threads)
    from policies.vllm import VLLMPolicy

    extra = json.loads(os.environ.get("BENCH_VLLM_KWARGS") or "{}")
    policy = VLLMPolicy(folder, dtype=dtype, entropy_topk=None, max_model_len=2048, seed=0, **extra)

    def generate(ids, sampling):
        policy.llm.reset_prefix_cache()  # every call starts cold, as transformers does: no prompt is cached yet
        return policy.generate_ids(ids, sampling)

    return generate, lambda: None


def _server_generate(folder: str, dtype: str, threads: int):
    from policies.engines.server import ServerEngine
    from policies.engines.server_process import ServerProcess

    process = ServerProcess(folder, threads=threads, dtype=dtype)
    engine = ServerEngine(None, process.base_url, version=0, model=process.name, process=process)

    def close() -> None:
        engine.http.close()
        process.stop()

    return engine._generate, close


def worker(args: argparse.Namespace) -> None:
    from agentgym.core.policy import SamplingParams

    prompts = json.loads(Path(args.prompts).read_text())
    make = {"hf": _hf_generate, "vllm": _vllm_generate, "server": _server_generate}[args.worker]
    started = time.perf_counter()
    generate, close = make(args.folder, args.dtype, args.threads)
    load_s = time.perf_counter() - started
    rows = []
    try:
        generate(prompts[:1], SamplingParams(greedy=True, max_new_tokens=2))  # warm-up
        for batch in args.batches:
            ids = prompts[:batch]
            prompt_tokens = sum(map(len, ids))
            prefill_s = step_s = float("inf")
            for _ in range(args.repeats):
                start = time.perf_counter()
                generate(ids, SamplingParams(greedy=True, max_new_tokens=1))
                prefill_s = min(prefill_s, time.perf_counter() - start)
                start = time.perf_counter()
                out = generate(ids, SamplingParams(greedy=True, max_new_tokens=args.new_tokens))
                step_s = min(step_s, time.perf_counter() - start)
            decoded = sum(len(g.token_ids) for g in out)
            rows.append({"batch": batch, "prompt_tokens": prompt_tokens, "prefill_s": prefill_s, "step_s": step_s,
                         "decoded": decoded,
                         "tokens": [g.token_ids for g in out]})
            print(f"  {args.worker} {args.dtype} batch {batch}: step {step_s:.2f} s", file=sys.stderr, flush=True)
    finally:
        close()
    Path(args.out).write_text(json.dumps({"load_s": load_s, "rows": rows}))


# ---- the parent: prompts, workers, table ----------------------------------------------------------------

def fixed_prompts(folder: str, count: int, style: str) -> list[list[int]]:
    """``count`` FrozenLake-v1 prompts with multi-turn histories, as token ids of the model's template."""
    from transformers import AutoTokenizer

    from agentgym.rollout.episode import EpisodeSettings
    from agentgym.sft.data import collect_examples
    from policies.chat_template import encode_prompt

    tokenizer = AutoTokenizer.from_pretrained(folder)
    examples, episodes = [], 0
    while len(examples) < count:
        episodes += 16
        examples = collect_examples(EpisodeSettings(env="agentgym/FrozenLake-v1", prompt_style=style), episodes,
                                    seed=0, explore=0.25)
    return [encode_prompt(tokenizer, e.messages) for e in examples[:count]]


def run_worker(python: str, engine: str, dtype: str, args, folder: str, prompt_file: Path) -> dict:
    out = Path(tempfile.mkstemp(prefix=f"gen-{engine}-{dtype}-", suffix=".json")[1])
    command = [python, str(Path(__file__).resolve()), "--worker", engine, "--dtype", dtype, "--folder", folder,
               "--prompts", str(prompt_file), "--out", str(out), "--threads", str(args.threads),
               "--batches", ",".join(map(str, args.batches)), "--new-tokens", str(args.new_tokens),
               "--repeats", str(args.repeats)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_VLLM_KWARGS": args.vllm_kwargs}
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not out.read_text():
        return {"error": f"worker exited with {os.waitstatus_to_exitcode(status)}"}
    result = json.loads(out.read_text())
    out.unlink()
    result["peak_rss_gb"] = usage.ru_maxrss / 1024 ** 2  # KiB -> GiB
    return result


def _decode_rate(row: dict) -> str:
    """Tokens after the first per second of the step beyond its prefill; "-" where noise makes the prefill
    call as slow as the whole step (the difference of two timings means nothing then)."""
    if row["step_s"] < 1.1 * row["prefill_s"] or row["decoded"] <= row["batch"]:
        return "-"
    return f"{(row['decoded'] - row['batch']) / (row['step_s'] - row['prefill_s']):.1f}"


def table(results: dict[tuple[str, str], dict], reference: str = "hf") -> list[str]:
    lines = [f"{'engine':<7} {'dtype':<9} {'batch':>5} {'prefill tok/s':>13} {'step tok/s':>10} {'decode tok/s':>12} "
             f"{'step s':>8} {'match':>6} {'peak RSS GB':>11}"]
    for (engine, dtype), result in results.items():
        if "error" in result:
            lines.append(f"{engine:<7} {dtype:<9} {result['error']}")
            continue
        ref = results.get((reference, dtype), {}).get("rows", [])
        for i, row in enumerate(result["rows"]):
            b = row["batch"]
            match = "-"
            if i < len(ref) and ref[i]["batch"] == b:
                match = f"{sum(x == y for x, y in zip(row['tokens'], ref[i]['tokens'])) / b:.2f}"
            lines.append(f"{engine:<7} {dtype:<9} {b:>5} {row['prompt_tokens'] / row['prefill_s']:>13.0f} "
                         f"{row['decoded'] / row['step_s']:>10.1f} {_decode_rate(row):>12} {row['step_s']:>8.2f} "
                         f"{match:>6} {result['peak_rss_gb']:>11.2f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M-Instruct",
                        help="model folder, hub id or .gguf file (resolved as the trainer resolves --model)")
    parser.add_argument("--engines", default="hf,vllm,server", help=f"comma-separated, of {', '.join(ENGINES)}")
    parser.add_argument("--dtypes", default="float32,bfloat16", help="comma-separated model dtypes")
    parser.add_argument("--batches", default="1,8,32,128", help="comma-separated batch sizes (prompts per call)")
    parser.add_argument("--new-tokens", type=int, default=32, help="response budget of the timed rollout step")
    parser.add_argument("--prompt-style", default="compact", help="compact | instruct (agentgym.rollout.prompts)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads each engine may use")
    parser.add_argument("--repeats", type=int, default=1, help="timings per figure; the best is kept")
    parser.add_argument("--vllm-kwargs", default="{}",
                        help='JSON of extra vllm.LLM arguments, e.g. \'{"block_size": 32}\'')
    parser.add_argument("--vllm-python", default=os.environ.get("AGENTGYM_VLLM_PYTHON", str(ROOT / ".venv-vllm/bin/python")),
                        help="interpreter with vLLM's CPU build (bash scripts/vllm_cpu_venv.sh)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    for name in ("--worker", "--dtype", "--folder", "--prompts", "--out"):  # the worker's own arguments
        parser.add_argument(name, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.batches = [int(b) for b in args.batches.split(",")]
    if args.worker:
        worker(args)
        return
    from policies.pretrained import resolve

    folder = resolve(args.model)
    engines = [e for e in args.engines.split(",") if e]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines {sorted(unknown)}; choose from {', '.join(ENGINES)}")
    if "vllm" in engines and not Path(args.vllm_python).exists():
        print(f"no vLLM interpreter at {args.vllm_python} (bash scripts/vllm_cpu_venv.sh makes one): vllm left out")
        engines.remove("vllm")
    prompt_file = Path(tempfile.mkstemp(prefix="gen-prompts-", suffix=".json")[1])
    prompt_file.write_text(json.dumps(fixed_prompts(folder, max(args.batches), args.prompt_style)))
    load_before = os.getloadavg()
    print(f"model {folder}; {max(args.batches)} FrozenLake-v1 prompts ({args.prompt_style}); threads {args.threads}; "
          f"load average {load_before[0]:.1f}")
    results = {}
    for dtype in args.dtypes.split(","):
        for engine in engines:
            python = args.vllm_python if engine == "vllm" else sys.executable
            results[(engine, dtype)] = run_worker(python, engine, dtype, args, folder, prompt_file)
    prompt_file.unlink()
    for line in table(results):
        print(line)
    print(f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps({f"{e}/{d}": r for (e, d), r in results.items()}, indent=1))


if __name__ == "__main__":
    main()
