"""Turn episode records into ``report.json``, a Markdown summary and the HTML trajectory viewer.

The report holds only what the episodes determine (no timestamps, no timings), so a deterministic
policy gives byte-identical reports for the same seeds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentgym.eval import stats
from agentgym.eval.viewer import write_viewer

SCHEMA_VERSION = 1


def planned_records(records: list[dict[str, Any]], plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of the plan's (task, seed) pairs in plan order (seed-major, split order); last write wins."""
    order = {t: i for i, t in enumerate(plan["task_ids"])}
    seeds = range(plan["protocol"]["seeds"])
    latest = {(r["task_id"], int(r["seed"])): r for r in records if r["task_id"] in order}
    return [latest[(t, s)] for s in seeds for t in plan["task_ids"] if (t, s) in latest]


def build_report(records: list[dict[str, Any]], plan: dict[str, Any]) -> dict[str, Any]:
    chosen = planned_records(records, plan)
    planned = len(plan["task_ids"]) * plan["protocol"]["seeds"]
    basic = stats.episode_metrics(chosen)
    metrics: dict[str, Any] = {
        "episodes": len(chosen),
        "success_rate": stats.success_summary(chosen),
        "score": {k: v for k, v in stats.seed_spread(chosen, "score").items() if k != "per_seed"},
        **{k: basic[k] for k in ("steps", "return", "invalid_action_rate", "truncated_rate")},
    }
    if plan["protocol"].get("pass_k"):
        metrics["pass_at_k"] = {str(k): stats.mean_pass_at_k(chosen, k) for k in plan["protocol"]["pass_k"]}
    return {
        "schema": SCHEMA_VERSION,
        **{k: plan[k] for k in ("env_id", "env_kwargs", "policy", "split", "protocol")},
        "complete": len(chosen) == planned,
        "planned_episodes": planned,
        "metrics": metrics,
        "by_task_type": stats.by_task_type(chosen),
        "flat": flat_metrics(basic, prefix="eval/"),
        "task_ids": plan["task_ids"],
    }


def flat_metrics(basic: dict[str, float], prefix: str) -> dict[str, float]:
    """The same keys the trainer logs for its held-out checks (``agentgym.eval.held_out.summarise``)."""
    return {f"{prefix}success_rate": basic["success_rate"], f"{prefix}score": basic["score"],
            f"{prefix}episode_len": basic["steps"], f"{prefix}invalid_action_rate": basic["invalid_action_rate"],
            f"{prefix}truncated_rate": basic["truncated_rate"]}


def write_outputs(out_dir: str | Path, records: list[dict[str, Any]], plan: dict[str, Any]) -> dict[str, Any]:
    """Write report.json, summary.md and viewer.html; returns the report."""
    out = Path(out_dir)
    report = build_report(records, plan)
    (out / "report.json").write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
    (out / "summary.md").write_text(markdown_summary(report))
    write_viewer(out / "viewer.html", planned_records(records, plan), _viewer_meta(report))
    return report


def _viewer_meta(report: dict[str, Any]) -> dict[str, Any]:
    sr = report["metrics"]["success_rate"]
    return {"title": f"{report['env_id']} / {report['split']['name']} / {report['policy']}",
            "summary": f"success {sr['mean']:.3f} (95% CI {sr['ci95'][0]:.3f}-{sr['ci95'][1]:.3f}), "
                       f"{report['metrics']['episodes']} episodes, split hash {report['split']['hash'][:12]}"}


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def markdown_summary(report: dict[str, Any]) -> str:
    m, split, proto = report["metrics"], report["split"], report["protocol"]
    sr = m["success_rate"]
    lines = [
        f"# Evaluation: {report['env_id']} / {split['name']}", "",
        f"- policy: `{report['policy']}`",
        f"- split `{split['name']}`: {split['evaluated']} of {split['num_tasks']} tasks, "
        f"hash `{split['hash'][:16]}` (evaluated subset `{split['evaluated_hash'][:16]}`)",
        f"- seeds: {proto['seeds']}, {'greedy' if proto['greedy'] else 'temperature ' + str(proto['temperature'])}"
        f", episodes {m['episodes']} of {report['planned_episodes']}" + ("" if report["complete"] else " (INCOMPLETE)"),
        "", "| metric | value |", "|---|---|",
        f"| success rate | {_fmt(sr['mean'])} |",
        f"| success 95% CI ({sr['ci_method']}) | {_fmt(sr['ci95'][0])} - {_fmt(sr['ci95'][1])} |",
        f"| success std over seeds | {_fmt(sr['std_over_seeds'])} |",
        f"| mean score | {_fmt(m['score']['mean'])} |",
        f"| mean steps | {_fmt(m['steps'])} |",
        f"| invalid-action rate (per step) | {_fmt(m['invalid_action_rate'])} |",
        f"| truncated rate | {_fmt(m['truncated_rate'])} |",
    ]
    lines += [f"| pass@{k} | {_fmt(v)} |" for k, v in m.get("pass_at_k", {}).items()]
    lines += ["", "| task type | episodes | success | score | steps | invalid rate |", "|---|---|---|---|---|---|"]
    for name, row in report["by_task_type"].items():
        lines.append(f"| {name} | {row['episodes']} | {_fmt(row['success_rate'])} | {_fmt(row['score'])} | "
                     f"{_fmt(row['steps'])} | {_fmt(row['invalid_action_rate'])} |")
    return "\n".join(lines) + "\n"
