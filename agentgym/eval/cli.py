"""Command line: ``python -m agentgym.eval --env ID --split S --policy SPEC`` and ``... compare A B``.

SPEC is anything ``policies.from_spec`` accepts: ``expert``, ``random``, a model folder, a training
checkpoint folder, ``replay:<file>`` or ``openai:<model>@<base_url>``. When the policy lives inside
a training run, the run's prompt settings (history length, admissible actions, response length) are
reused unless given on the command line, so the policy is evaluated on the prompts it learned from.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from agentgym.core import plugins
from agentgym.core.registry import spec
from agentgym.eval.compare import compare
from agentgym.eval.runner import EvalSettings, make_plan, run_evaluation
from agentgym.util.cli_errors import check_model_path, looks_like_a_path, one_line_errors
from agentgym.util.cli_options import add_options, add_renamed_options, rename_given

# taken from the policy's training run
PROMPT_FIELDS = ("history_len", "show_admissible", "max_new_tokens", "prompt_style")
DEPRECATED = {"env_backend": "pool", "env_workers": "pool_workers"}  # renamed in 0.2
EVAL_FIELDS = tuple(f.name for f in dataclasses.fields(EvalSettings))
PROG = "python -m agentgym.eval"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", required=True, help="environment id, e.g. agentgym/FrozenLake-v0")
    p.add_argument("--policy", required=True, help="policy spec (see above)")
    p.add_argument("--out", default=None, help="output folder (default runs/eval/<env>__<split>__<policy>)")
    p.add_argument("--resume", action="store_true", help="complete an interrupted evaluation in --out")
    p.add_argument("--overwrite", action="store_true", help="discard episodes already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"),
                   help="dtype of a model policy's weights: auto = as the folder was saved (a bfloat16 fine-tune "
                        "stays bfloat16, about twice as fast as float32 on a CPU with bf16 support)")
    add_options(p.add_argument_group("evaluation protocol (agentgym.eval.runner.EvalSettings)"), EvalSettings,
                skip=("env",))
    add_renamed_options(p, EvalSettings, DEPRECATED)
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
    """EvalSettings defaults, then the policy's training-run prompt settings, then the options given."""
    given = {k: v for k, v in rename_given(vars(args), DEPRECATED).items() if k in EVAL_FIELDS}  # left out: absent
    from_run = {k: v for k, v in run_config_near(args.policy).items() if k in PROMPT_FIELDS and k not in given}
    if from_run:
        print(f"prompt settings from the policy's training run: {from_run}", file=sys.stderr)
    try:
        return EvalSettings(**{**from_run, **given})
    except ValueError as exc:  # e.g. an unknown split, episodes 0
        raise SystemExit("--" + re.sub(r"^[a-z_]+", lambda m: m.group(0).replace("_", "-"), str(exc))) from exc


def default_out(settings: EvalSettings, policy_spec: str) -> Path:
    parts = (settings.env, settings.split, policy_spec)
    slug = "__".join(re.sub(r"[^A-Za-z0-9._-]+", "-", s).strip("-")[-60:] for s in parts)
    return Path("runs") / "eval" / slug


def load_policy(spec: str, env_id: str | None = None, dtype: str | None = None):
    try:
        return plugins.policy_from_spec(spec, env_id=env_id, dtype=dtype)
    except plugins.PluginNotFound as exc:
        raise SystemExit(f"no policy factory is installed ({exc}); cannot resolve --policy {spec!r}") from exc
    except Exception as exc:
        if looks_like_a_path(spec) and not Path(spec).expanduser().exists():
            raise SystemExit(f"--policy {spec!r}: no such folder (and not a loadable policy name or hub model id: "
                             f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from exc
        raise


def evaluate_main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.resume and args.overwrite:
        parser.error("--resume and --overwrite contradict each other: complete the evaluation in --out, or "
                     "replace it")
    with one_line_errors(PROG):
        settings = settings_from_args(args)
        spec(settings.env)  # an unknown id or a missing module, before anything is built
    out = Path(args.out) if args.out else default_out(settings, args.policy)
    try:  # the environment and its split, built before any model is loaded: bad --env-kwargs fail here
        make_plan(settings, args.policy)
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"cannot evaluate {settings.env} (split {settings.split}, env kwargs "
                         f"{settings.env_kwargs_with_limit()}): {type(exc).__name__}: {exc}") from exc
    with one_line_errors(PROG, f"--out {str(out)!r}: "):
        out.mkdir(parents=True, exist_ok=True)  # an unwritable folder, before any model is loaded
    with one_line_errors(PROG):
        check_model_path("--policy", args.policy)
        policy = load_policy(args.policy, settings.env, args.dtype)
    try:
        with one_line_errors(PROG):  # an unreachable policy server, the same command run twice
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


DEFAULT_COMPARE_OUT = "runs/compare"


def compare_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m agentgym.eval compare",
                                description="Evaluation reports and training runs side by side.")
    p.add_argument("inputs", nargs="+", help="evaluation folders, report.json files or training run folders")
    p.add_argument("--out", default=DEFAULT_COMPARE_OUT,
                   help=f"folder for compare.md, compare.json and the plot compare.png (default {DEFAULT_COMPARE_OUT})")
    args = p.parse_args(argv)
    with one_line_errors(PROG + " compare"):  # a missing or unreadable input
        _, table = compare(args.inputs, args.out)
    print(table)
    print(f"plot: {Path(args.out) / 'compare.png'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "compare":
        return compare_main(argv[1:])
    return evaluate_main(argv)
