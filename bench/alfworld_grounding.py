"""Does an ALFWorld pick-and-place policy take the task's object once it sees it?

Reads evaluation folders (``episodes.jsonl`` from ``python -m agentgym.eval``) and prints, per folder:
success, the number of steps whose observation shows the task's object while the agent does not hold it,
the share of those steps where the agent's action was to take it, and the share of episodes in which it
ever held it. This is the diagnostic behind docs/benchmarks.md ("ALFWorld with the tiny model"). The
tiny model learns the search, but on held-out games it rarely takes the object it is looking for.

    python bench/alfworld_grounding.py bench/results/learning/agentgym--ALFWorld-v0/*/gigpo/seed*/final_eval_valid_seen
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from agentgym.eval.episodes import EpisodeLog

TASK = re.compile(r"put (?:a|an|some) (\w+) (?:in|on) (\w+)")


def grounding(folder: Path) -> dict[str, float]:
    path = folder / "episodes.jsonl"
    if not path.exists():
        raise FileNotFoundError(path)
    episodes = EpisodeLog(path).read()
    in_view = took = ever_held = successes = 0
    for episode in episodes:
        match = TASK.match(episode["task"])
        obj = match.group(1) if match else None
        held = False
        successes += bool(episode["success"])
        for step in episode["steps"]:
            action = step.get("action") or ""
            if obj and not held and "you see" in step["observation"] and re.search(rf"\b{obj} \d", step["observation"]):
                in_view += 1
                took += action.startswith(f"take {obj} ")
            if obj and action.startswith(f"take {obj} ") and step.get("action_valid"):
                held = True
        ever_held += held
    n = max(1, len(episodes))
    return {"episodes": len(episodes), "success": successes / n, "object_in_view_steps": in_view,
            "take_when_in_view": took / in_view if in_view else float("nan"), "episodes_holding": ever_held / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="evaluation output folders (with episodes.jsonl)")
    args = parser.parse_args()
    print(f"{'success':>8}{'in view':>9}{'take':>7}{'held':>7}  folder")
    for folder in args.folders:
        g = grounding(folder)
        print(f"{g['success']:>8.3f}{g['object_in_view_steps']:>9d}{g['take_when_in_view']:>7.3f}"
              f"{g['episodes_holding']:>7.3f}  {folder}")


if __name__ == "__main__":
    main()
