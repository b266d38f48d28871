"""Pre-generate ALFWorld games for whole splits, with a progress bar.

    python -m environments.alfworld.generate                      # all three splits, official sizes
    python -m environments.alfworld.generate --splits valid_unseen --num-tasks 50 --workers 2

Games land in ``agentgym.util.paths.cache_dir("alfworld", "generated-<version>")/json_2.1.1/<split>/``
(``$AGENTGYM_CACHE`` moves it), in the official layout, so the folder also works as
``data_dir`` for alfworld's own tools. Generation is deterministic: the same task id always gives
the same game, and games already on disk are skipped.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

from tqdm import tqdm

from agentgym.core.registry import SPLITS
from environments.alfworld.gamefiles import ensure_game, generated_root
from environments.alfworld.splits import parse_task_id, split_task_ids


def _generate_one(job: tuple[str, str, str]) -> str:
    split, task_id, check = job
    return str(ensure_game(split, task_id, check=check))


def generate(splits: list[str], num_tasks: int | None = None, workers: int = 1, check: str = "play") -> dict:
    """Generate the games of ``splits``; returns per-split counts by task type and the seconds taken."""
    report = {}
    for split in splits:
        ids = split_task_ids(split, num_tasks)
        jobs = [(split, task_id, check) for task_id in ids]
        start = time.perf_counter()
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                list(tqdm(pool.map(_generate_one, jobs, chunksize=4), total=len(jobs), desc=split))
        else:
            for job in tqdm(jobs, desc=split):
                _generate_one(job)
        counts = Counter(parse_task_id(task_id)[0] for task_id in ids)
        report[split] = {"games": len(ids), "seconds": time.perf_counter() - start, "types": dict(counts)}
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    parser.add_argument("--num-tasks", type=int, default=None, help="games per split (default: official sizes)")
    parser.add_argument("--workers", type=int, default=1, help="processes generating in parallel")
    parser.add_argument("--check", choices=["play", "planner"], default="play",
                        help="play the oracle's plan through the engine (default) or ask Fast Downward")
    args = parser.parse_args(argv)
    report = generate(args.splits, args.num_tasks, args.workers, args.check)
    print(f"games in {generated_root()}")
    for split, row in report.items():
        types = ", ".join(f"{t} {n}" for t, n in sorted(row["types"].items()))
        print(f"{split}: {row['games']} games in {row['seconds']:.0f} s ({types})")


if __name__ == "__main__":
    main()
