"""``agentgym/TextWorld-v0``: play any game files made by ``tw-make`` or textworld's Python API."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from environments.textworld.families import _COMMON_SECTIONS
from environments.textworld.game_env import TextWorldEnv
from environments.textworld.generation import GameSpec, game_path

GameFiles = str | os.PathLike | Iterable[str | os.PathLike]
ZMACHINE_SUFFIXES = tuple(f".z{i}" for i in range(1, 9))
DEFAULT_SETTINGS = {"train": {"rooms": 5, "objects": 10, "quest": 5},
                    "valid_seen": {"rooms": 5, "objects": 10, "quest": 5},
                    "valid_unseen": {"rooms": 8, "objects": 16, "quest": 8}}
DEFAULT_SEED_BASE = {"train": 0, "valid_seen": 1_000_000, "valid_unseen": 2_000_000}
DEFAULT_COUNTS = {"train": 50, "valid_seen": 20, "valid_unseen": 20}


class TextWorldGameFiles(TextWorldEnv):
    __doc__ = """
    ## Description
    Plays TextWorld game files you bring: ``.z8`` games made by ``tw-make`` (any challenge or
    ``custom`` settings) or by ``textworld.make``/``compile_game``, each with the ``.json`` that
    textworld writes next to it (it holds the facts and quests the expert and the state key need).
    ``.ulx`` (Glulx) games cannot be played: textworld 1.7 removed Glulx support, so they are
    refused with that explanation; recompile them with ``tw-make`` to ``.z8``.
    """ + _COMMON_SECTIONS + """
    ## Starting State
    The game's own start.

    ## Splits
    ``game_files`` may be a dict ``{split: files}`` (disjoint splits in one config) or files for the
    split being built: a path, a folder (all ``.z1``-``.z8`` games inside), a glob, or a list of
    these. Task ids are the file names without extension (``~2``, ``~3`` appended to repeats).
    Without ``game_files`` the environment plays a default set of games made with ``tw-make
    custom``'s default settings (5 rooms, 10 objects, quests of 5 actions; 50 train, 20 valid_seen),
    and for ``valid_unseen`` 20 larger ones (8 rooms, 16 objects, quests of 8), generated on first use.

    ## Version History
    * v0: initial version.
    """

    def __init__(self, split: str = "train", game_files: GameFiles | Mapping[str, GameFiles] | None = None,
                 num_tasks: int | None = None, **common: Any):
        super().__init__(split=split, **common)
        self._files: dict[str, Path | GameSpec] = {}
        if game_files is None:
            count = int(num_tasks if num_tasks is not None else DEFAULT_COUNTS[split])
            for i in range(count):
                spec = GameSpec("custom", DEFAULT_SETTINGS[split], DEFAULT_SEED_BASE[split] + i)
                self._files[spec.task_id] = spec
            return
        if isinstance(game_files, Mapping):
            game_files = game_files.get(split, ())
        paths = expand_game_files(game_files)
        for path in paths[:num_tasks] if num_tasks is not None else paths:
            self._files[_unique_id(path.stem, self._files)] = path

    def task_ids(self) -> Sequence[str]:
        return list(self._files)

    def game_file(self, task_id: str) -> str:
        entry = self._files[task_id]
        return str(game_path(entry) if isinstance(entry, GameSpec) else entry)

    def task_type_of(self, task_id: str) -> str:
        entry = self._files.get(task_id)
        return f"custom/{entry.tag}" if isinstance(entry, GameSpec) else "game_file"


def expand_game_files(game_files: GameFiles) -> list[Path]:
    """Every game a path, folder, glob or list of those names, checked to be playable."""
    entries = [game_files] if isinstance(game_files, str | os.PathLike) else list(game_files)
    paths: list[Path] = []
    for entry in entries:
        text = os.fspath(entry)
        if os.path.isdir(text):
            found = sorted(p for p in Path(text).iterdir() if p.suffix in ZMACHINE_SUFFIXES + (".ulx",))
        elif glob.has_magic(text):
            found = sorted(Path(p) for p in glob.glob(text))
        else:
            found = [Path(text)]
        if not found:
            raise FileNotFoundError(f"No TextWorld games found at {text!r}.")
        paths.extend(_checked(p) for p in found)
    return paths


def _checked(path: Path) -> Path:
    if path.suffix == ".ulx":
        raise ValueError(f"{path}: Glulx (.ulx) games are not supported by textworld 1.7, which removed Glulx; "
                         "regenerate the game with tw-make (it writes .z8).")
    if path.suffix not in ZMACHINE_SUFFIXES:
        raise ValueError(f"{path}: expected a .z8 game made by tw-make or textworld (got {path.suffix!r}).")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such game file.")
    if not path.with_suffix(".json").is_file():
        raise ValueError(f"{path}: the {path.with_suffix('.json').name} that tw-make writes next to the game is "
                         "missing; textworld needs it for admissible commands, the expert and the facts.")
    return path.resolve()


def _unique_id(stem: str, taken: Mapping[str, Any]) -> str:
    if stem not in taken:
        return stem
    n = 2
    while f"{stem}~{n}" in taken:
        n += 1
    return f"{stem}~{n}"
