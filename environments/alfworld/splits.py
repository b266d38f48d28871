"""Task ids of the generated splits: cheap strings, known without generating any game.

Default sizes and per-type counts are those of the official ALFWorld text games (3,553 train,
140 valid_seen, 134 valid_unseen). ``train`` and ``valid_seen`` use ALFRED's training scenes with
disjoint seed ranges (so different placements and targets); ``valid_unseen`` uses ALFRED's test
scenes (``TEST_SCENE_NUMBERS``). A task id reads ``<task_type>-<floor plan>-<seed>``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from environments.alfworld.scenes import TASK_TYPES, eligible_scenes

OFFICIAL_COUNTS = {
    "train": {"pick_and_place_simple": 790, "look_at_obj_in_light": 308, "pick_clean_then_place_in_recep": 650,
              "pick_heat_then_place_in_recep": 459, "pick_cool_then_place_in_recep": 533,
              "pick_two_obj_and_place": 813},
    "valid_seen": {"pick_and_place_simple": 35, "look_at_obj_in_light": 13, "pick_clean_then_place_in_recep": 27,
                   "pick_heat_then_place_in_recep": 16, "pick_cool_then_place_in_recep": 25,
                   "pick_two_obj_and_place": 24},
    "valid_unseen": {"pick_and_place_simple": 24, "look_at_obj_in_light": 18, "pick_clean_then_place_in_recep": 31,
                     "pick_heat_then_place_in_recep": 23, "pick_cool_then_place_in_recep": 21,
                     "pick_two_obj_and_place": 17},
}
SEED_BASE = {"train": 0, "valid_seen": 1_000_000, "valid_unseen": 2_000_000}


def type_counts(split: str, num_tasks: int | None = None) -> dict[str, int]:
    """Per-type counts: the official ones, or ``num_tasks`` spread in the official proportions."""
    counts = OFFICIAL_COUNTS[split]
    if num_tasks is None:
        return dict(counts)
    total = sum(counts.values())
    scaled = {t: int(num_tasks * c // total) for t, c in counts.items()}
    by_remainder = sorted(counts, key=lambda t: -(num_tasks * counts[t] % total))
    for t in by_remainder[: num_tasks - sum(scaled.values())]:
        scaled[t] += 1
    return scaled


def split_task_ids(split: str, num_tasks: int | None = None) -> tuple[str, ...]:
    """The split's ids; ``num_tasks`` below the official size takes a prefix (all types stay mixed)."""
    official = sum(OFFICIAL_COUNTS[split].values())
    if num_tasks is None:
        return _all_ids(split, None)
    return _all_ids(split, None if num_tasks <= official else int(num_tasks))[: int(num_tasks)]


@lru_cache(maxsize=32)
def _all_ids(split: str, num_tasks: int | None) -> tuple[str, ...]:
    """Ids in a fixed, type-interleaved order; scenes cycle over the eligible floor plans."""
    counts = type_counts(split, num_tasks)
    slots = [t for t in TASK_TYPES for _ in range(counts[t])]
    np.random.default_rng(SEED_BASE[split] + 17).shuffle(slots)
    seen_of_type = dict.fromkeys(TASK_TYPES, 0)
    ids = []
    for index, task_type in enumerate(slots):
        scenes = eligible_scenes(task_type, split == "valid_unseen")
        k = seen_of_type[task_type]
        seen_of_type[task_type] += 1
        ids.append(f"{task_type}-{scenes[k % len(scenes)]}-{SEED_BASE[split] + index}")
    return tuple(ids)


def parse_task_id(task_id: str) -> tuple[str, int, int]:
    """(task type, floor plan number, seed) of a generated task id."""
    task_type, scene, seed = task_id.rsplit("-", 2)
    if task_type not in TASK_TYPES:
        raise ValueError(f"{task_id!r} is not a generated ALFWorld task id")
    return task_type, int(scene), int(seed)
