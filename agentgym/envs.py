"""``python -m agentgym.envs``: a table of the registered text environments.

Shows each id, its task count per split, and whether it offers admissible actions and an expert.
Environments whose optional dependencies are missing are listed with the reason.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from agentgym.core.registry import SPLITS, list_envs, make


def describe(env_id: str) -> dict[str, Any]:
    """One row of the table; never raises (a broken env shows its error instead)."""
    row: dict[str, Any] = {"id": env_id}
    try:
        for split in SPLITS:
            env = make(env_id, split=split)
            base = env.unwrapped
            row[split] = base.num_tasks() if hasattr(base, "num_tasks") else None
            row["admissible"] = getattr(base, "has_admissible_actions", None)
            row["expert"] = getattr(base, "has_expert", None)
            env.close()
    except Exception as exc:  # noqa: BLE001 - shown in the table
        row["error"] = f"{type(exc).__name__}: {exc}"[:80]
    return row


def format_table(rows: list[dict[str, Any]]) -> str:
    headers = ["id", *SPLITS, "admissible", "expert"]
    cells = [[_cell(row, h) for h in headers] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for row, cell in zip(rows, cells):
        line = "  ".join(c.ljust(w) for c, w in zip(cell, widths))
        lines.append(line + (f"  unavailable: {row['error']}" if "error" in row else ""))
    return "\n".join(lines)


def _cell(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m agentgym.envs", description=__doc__)
    parser.add_argument("--namespace", default=None, help="only ids in this namespace (e.g. agentgym)")
    parser.add_argument("--module", action="append", default=[], metavar="MODULE",
                        help="import this module first, so the environments it registers are listed (repeatable)")
    args = parser.parse_args(argv)
    for module in args.module:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            parser.exit(1, f"{parser.prog}: --module {module}: {exc}\n")
    print(format_table([describe(env_id) for env_id in list_envs(args.namespace)]))


if __name__ == "__main__":
    main()
