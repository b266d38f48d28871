"""Base class of the TextWorld families whose games textworld generates on first use.

A family turns its constructor options into a cycle of generation settings (one per task, so a
split can mix levels or world sizes), and into shifted settings for ``valid_unseen`` (larger worlds
or longer quests, see each family's ``shift``). Task ids are ``family-settings-seed``; splits use
disjoint seed ranges, so no id is in two splits. Ids are plain strings built without generating
anything; a game is generated and cached the first time its id is played.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from environments.textworld.game_env import TextWorldEnv
from environments.textworld.generation import GameSpec, game_path

SEED_BASE = {"train": 0, "valid_seen": 1_000_000, "valid_unseen": 2_000_000}
DEFAULT_COUNTS = {"train": 10_000, "valid_seen": 100, "valid_unseen": 100}


class GeneratedTextWorld(TextWorldEnv):
    """Subclasses set ``family`` and implement ``settings_cycle`` and ``shift``."""

    family = ""

    def __init__(self, split: str = "train", options: Mapping[str, Any] | None = None,
                 unseen: Mapping[str, Any] | None = None, num_tasks: int | None = None, **common: Any):
        super().__init__(split=split, **common)
        options = dict(options or {})
        if split == "valid_unseen":
            options = {**options, **self.shift(options), **dict(unseen or {})}
        self.options = options
        self._settings = [dict(s) for s in self.settings_cycle(**options)]
        if not self._settings:
            raise ValueError(f"{type(self).__name__}: the options {options} give no game settings.")
        self._tags = [GameSpec(self.family, s).tag for s in self._settings]
        self._seed_base = SEED_BASE[split]
        count = int(num_tasks if num_tasks is not None else DEFAULT_COUNTS[split])
        n = len(self._settings)
        self._ids = [f"{self.family}-{self._tags[i % n]}-{self._seed_base + i}" for i in range(count)]

    # ---- for subclasses -----------------------------------------------------------------------
    def settings_cycle(self, **options: Any) -> Sequence[Mapping[str, Any]]:
        """The generation settings that task i, i+n, i+2n, ... use (n = length of the list)."""
        raise NotImplementedError

    def shift(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Option changes that make ``valid_unseen`` harder than training (bigger or longer)."""
        raise NotImplementedError

    # ---- TextWorldEnv -------------------------------------------------------------------------
    def task_ids(self) -> Sequence[str]:
        return self._ids

    def spec_of(self, task_id: str) -> GameSpec:
        seed = int(task_id.rsplit("-", 1)[1])
        index = (seed - self._seed_base) % len(self._settings)
        spec = GameSpec(self.family, self._settings[index], seed)
        if spec.task_id != task_id:
            raise ValueError(f"{task_id!r} is not a task of this {type(self).__name__} (expected {spec.task_id!r}).")
        return spec

    def game_file(self, task_id: str) -> str:
        return str(game_path(self.spec_of(task_id)))

    def task_type_of(self, task_id: str) -> str:
        return f"{self.family}/{self.spec_of(task_id).tag}"


def as_tuple(value: int | Iterable[int]) -> tuple[int, ...]:
    """An int or a sequence of ints as a non-empty tuple."""
    values = (int(value),) if isinstance(value, int) else tuple(int(v) for v in value)
    if not values:
        raise ValueError("expected at least one value")
    return values
