"""Command line: ``python -m agentgym.eval --env ID --split S --policy SPEC`` and ``... compare A B``.

SPEC is anything ``policies.from_spec`` accepts: ``expert``, ``random``, a model folder, a training
checkpoint folder, ``replay:<file>`` or ``openai:<model>@<base_url>``. When the policy lives inside
a training run, the run's prompt settings (history length, admissible actions, response length) are
reused unless given on the command line, so the policy is evaluated on the prompts it learned from.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from agentgym.eval.compare import compare
from agentgym.eval.runner import EvalSettings, run_evaluation
from agentgym.registry import SPLITS

PROMPT_FIELDS = ("history_len", "show_admissible", "max_new_tokens")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m agentgym.eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", required=True, help="environment id, e.g. agentgym/FrozenLake-v0")
    p.add_argument("--split", default="valid_unseen", choices=SPLITS)
    p.add_argument("--policy", required=True, help="policy spec (see above)")
    p.add_argument("--episodes", type=int, default=None, help="first N tasks of the split (default: all)")
    p.add_argument("--seeds", type=int, default=1, help="play every task once per seed 0..K-1")
    p.add_argument("--out", default=None, help="output folder (default runs/eval/<env>__<split>__<policy>)")
    p.add_argument("--resume", action="store_true", help="complete an interrupted evaluation in --out")
    p.add_argument("--overwrite", action="store_true", help="discard episodes already in --out")
    p.add_argument("--batch-size", type=int, default=16, help="environments played together")
    p.add_argument("--env-workers", type=int, default=4)
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--history-len", type=int, default=None)
    p.add_argument("--no-admissible", dest="show_admissible", action="store_false", default=None,
                   help="do not list admissible actions in prompts")
    p.add_argument("--max-steps", type=int, default=None, help="override the environment's step limit")
    p.add_argument("--env-kwargs", type=json.loads, default={}, help='JSON, e.g. \'{"num_tasks": 50}\'')
    p.add_argument("--pass-k", default="", help="comma-separated k values for pass@k (needs --seeds >= k)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def run_config_near(spec: str) -> dict[str, Any]:
    """The training run's config.yaml for a policy inside a run folder (checkpoint or final_policy)."""
    path = Path(spec)
    if not path.exists():
        return {}
    for folder in [path, *list(path.resolve().parents)[:3]]:
        if (folder / "config.yaml").is_file() and (folder / "metrics.jsonl").is_file():
            return yaml.safe_load((folder / "config.yaml").read_text()) or {}
    return {}


def settings_from_args(args: argparse.Namespace) -> EvalSettings:
    prompt = {"history_len": None, "show_admissible": True, "max_new_tokens": 64}  # None: the env decides
    from_run = {k: v for k, v in run_config_near(args.policy).items() if k in PROMPT_FIELDS}
    if from_run:
        print(f"prompt settings from the policy's training run: {from_run}", file=sys.stderr)
    prompt.update(from_run)
    prompt.update({k: getattr(args, k) for k in PROMPT_FIELDS if getattr(args, k) is not None})
    return EvalSettings(env_id=args.env, split=args.split, episodes=args.episodes, seeds=args.seeds,
                        env_kwargs=args.env_kwargs, max_steps=args.max_steps, temperature=args.temperature,
                        top_p=args.top_p, pass_k=tuple(int(k) for k in args.pass_k.split(",") if k.strip()),
                        batch_size=args.batch_size, env_workers=args.env_workers, **prompt)


def default_out(args: argparse.Namespace) -> Path:
    slug = "__".join(re.sub(r"[^A-Za-z0-9._-]+", "-", s).strip("-")[-60:] for s in (args.env, args.split, args.policy))
    return Path("runs") / "eval" / slug


def load_policy(spec: str):
    try:
        from policies import from_spec
    except ImportError as exc:
        raise SystemExit(f"policies.from_spec is not available ({exc}); cannot resolve --policy {spec!r}") from exc
    return from_spec(spec)


def evaluate_main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    settings = settings_from_args(args)
    out = Path(args.out) if args.out else default_out(args)
    policy = load_policy(args.policy)
    try:
        report = run_evaluation(policy, settings, out, policy_spec=args.policy, resume=args.resume,
                                overwrite=args.overwrite, progress=not args.quiet)
    except KeyboardInterrupt:
        kept = sum(1 for line in (out / "episodes.jsonl").open() if line.strip()) \
            if (out / "episodes.jsonl").exists() else 0
        print(f"\ninterrupted: {kept} finished episodes kept in {out / 'episodes.jsonl'}; "
              f"rerun the same command with --resume to complete it", file=sys.stderr)
        return 130
    print((out / "summary.md").read_text())
    print(f"report: {out / 'report.json'}\nviewer: {out / 'viewer.html'}")
    return 0 if report["complete"] else 1


def compare_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m agentgym.eval compare",
                                description="Evaluation reports and training runs side by side.")
    p.add_argument("inputs", nargs="+", help="evaluation folders, report.json files or training run folders")
    p.add_argument("--out", default=None, help="also write compare.md, compare.json and compare.png here")
    args = p.parse_args(argv)
    _, table = compare(args.inputs, args.out)
    print(table)
    if args.out:
        print(f"plot: {Path(args.out) / 'compare.png'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "compare":
        return compare_main(argv[1:])
    return evaluate_main(argv)
