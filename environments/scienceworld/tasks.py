"""Task ids of ScienceWorld's official splits: cheap strings, known without starting the simulator.

ScienceWorld has 30 task types, each with numbered variations; the simulator splits every type's
variations into contiguous train / dev / test ranges (``get_variations_train/dev/test``). agentgym maps
them onto its splits: train -> ``train``, dev -> ``valid_seen``, test -> ``valid_unseen`` (the test
variations: unseen objects, substances and rooms for most types). A task id reads
``<task type>-<variation>``, e.g. ``boil-21``. Ids interleave the types (first variation of every type,
then the second, ...), so a prefix of a split covers many types. ``SPLIT_SIZES`` is read from the
simulator of scienceworld 1.2.3; a test checks it against the running engine.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import zip_longest

# (official number, task type, title) in the paper's order, and the sizes of its (train, dev, test) ranges
TASKS: tuple[tuple[str, str, str, tuple[int, int, int]], ...] = (
    ("1-1", "boil", "Changes of State (Boiling)", (14, 7, 9)),
    ("1-2", "melt", "Changes of State (Melting)", (14, 7, 9)),
    ("1-3", "freeze", "Changes of State (Freezing)", (14, 7, 9)),
    ("1-4", "change-the-state-of-matter-of", "Changes of State (Any)", (14, 7, 9)),
    ("2-1", "use-thermometer", "Use Thermometer", (270, 135, 135)),
    ("2-2", "measure-melting-point-known-substance", "Measuring Melting Point (known)", (218, 109, 109)),
    ("2-3", "measure-melting-point-unknown-substance", "Measuring Melting Point (unknown)", (150, 75, 75)),
    ("3-1", "power-component", "Create a circuit", (10, 5, 5)),
    ("3-2", "power-component-renewable-vs-nonrenewable-energy", "Renewable vs Non-renewable Energy", (10, 5, 5)),
    ("3-3", "test-conductivity", "Test Conductivity (known)", (450, 225, 225)),
    ("3-4", "test-conductivity-of-unknown-substances", "Test Conductivity (unknown)", (300, 150, 150)),
    ("4-1", "find-living-thing", "Find a living thing", (150, 75, 75)),
    ("4-2", "find-non-living-thing", "Find a non-living thing", (150, 75, 75)),
    ("4-3", "find-plant", "Find a plant", (150, 75, 75)),
    ("4-4", "find-animal", "Find an animal", (150, 75, 75)),
    ("5-1", "grow-plant", "Grow a plant", (62, 31, 33)),
    ("5-2", "grow-fruit", "Grow a fruit", (62, 31, 33)),
    ("6-1", "chemistry-mix", "Mixing (generic)", (16, 8, 8)),
    ("6-2", "chemistry-mix-paint-secondary-color", "Mixing paints (secondary colours)", (18, 9, 9)),
    ("6-3", "chemistry-mix-paint-tertiary-color", "Mixing paints (tertiary colours)", (18, 9, 9)),
    ("7-1", "lifespan-longest-lived", "Identify longest-lived animal", (62, 31, 32)),
    ("7-2", "lifespan-shortest-lived", "Identify shortest-lived animal", (62, 31, 32)),
    ("7-3", "lifespan-longest-lived-then-shortest-lived", "Identify longest-then-shortest-lived animal",
     (62, 31, 32)),
    ("8-1", "identify-life-stages-1", "Identify life stages (plant)", (6, 3, 5)),
    ("8-2", "identify-life-stages-2", "Identify life stages (animal)", (4, 2, 4)),
    ("9-1", "inclined-plane-determine-angle", "Inclined Planes (determine angle)", (84, 42, 42)),
    ("9-2", "inclined-plane-friction-named-surfaces", "Friction (known surfaces)", (692, 346, 348)),
    ("9-3", "inclined-plane-friction-unnamed-surfaces", "Friction (unknown surfaces)", (80, 40, 42)),
    ("10-1", "mendelian-genetics-known-plant", "Mendelian Genetics (known plants)", (60, 30, 30)),
    ("10-2", "mendelian-genetics-unknown-plant", "Mendelian Genetics (unknown plants)", (240, 120, 120)),
)
TASK_TYPES = tuple(name for _, name, _, _ in TASKS)
SPLIT_SIZES = {name: sizes for _, name, _, sizes in TASKS}
OFFICIAL_SET = {"train": "train", "valid_seen": "dev", "valid_unseen": "test"}  # agentgym split -> ScienceWorld set


def variations(task_type: str, split: str) -> range:
    """The variation indices of ``task_type`` in ``split`` (the simulator's contiguous range)."""
    n_train, n_dev, n_test = SPLIT_SIZES[task_type]
    start = {"train": 0, "valid_seen": n_train, "valid_unseen": n_train + n_dev}[split]
    return range(start, start + {"train": n_train, "valid_seen": n_dev, "valid_unseen": n_test}[split])


@lru_cache(maxsize=16)
def split_task_ids(split: str, task_types: tuple[str, ...] = TASK_TYPES) -> tuple[str, ...]:
    """The split's ids, types interleaved round-robin in the official order (shorter types drop out)."""
    columns = [[f"{t}-{v}" for v in variations(t, split)] for t in TASK_TYPES if t in task_types]
    return tuple(i for row in zip_longest(*columns) for i in row if i is not None)


def parse_task_id(task_id: str) -> tuple[str, int]:
    """(task type, variation) of ``boil-21``; ValueError for anything else."""
    task_type, _, variation = task_id.rpartition("-")
    if task_type not in SPLIT_SIZES or not variation.isdigit():
        raise ValueError(f"{task_id!r} is not a ScienceWorld task id (<task type>-<variation>, e.g. boil-21)")
    return task_type, int(variation)
