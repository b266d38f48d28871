"""The Custom TextWorld family: worlds of chosen size, object count and quest length."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from environments.textworld.families import _COMMON_SECTIONS
from environments.textworld.generated import GeneratedTextWorld, as_tuple

MAX_ROOMS = 100  # textworld 1.7 compiles to Z-machine only, which caps a game at about 100 rooms


class CustomTextWorld(GeneratedTextWorld):
    __doc__ = """
    ## Description
    Games from textworld's general generator (what ``tw-make custom`` makes): a random house of
    ``world_size`` rooms, ``nb_objects`` objects, and a quest of ``quest_length`` actions (fetch,
    unlock, open, put, insert, ... chained backwards from a goal). Made for the size-transfer
    experiment of "A Practitioner's Guide to Multi-turn Agentic RL" (arXiv 2510.01132): train on
    small worlds, evaluate on larger ones.
    """ + _COMMON_SECTIONS + """
    ## Starting State
    The player in one room of the generated house; the objective describes the quest.

    ## Splits
    Task i uses the i-th entry of each option, cycling (so ``world_size=(2, 4, 6)`` mixes three
    sizes). ``train`` seeds 0.. and ``valid_seen`` seeds 1,000,000.. use the options as given;
    ``valid_unseen`` (seeds 2,000,000..) doubles the largest value of each option (default: 6 rooms,
    12 objects, quests of 8 actions against 3, 6 and 4 in training).

    ## Family options
    ``world_size`` (3): rooms; ``nb_objects`` (6): objects (at least those the quest needs);
    ``quest_length`` (4): actions the quest requires. Each may be an int or a sequence of ints.

    ## Version History
    * v0: initial version.
    """
    family = "custom"

    def __init__(self, split: str = "train", world_size: int | Iterable[int] = 3,
                 nb_objects: int | Iterable[int] = 6, quest_length: int | Iterable[int] = 4, **kwargs: Any):
        options = {"world_size": as_tuple(world_size), "nb_objects": as_tuple(nb_objects),
                   "quest_length": as_tuple(quest_length)}
        super().__init__(split, options=options, **kwargs)

    def settings_cycle(self, world_size: Iterable[int], nb_objects: Iterable[int],
                       quest_length: Iterable[int]) -> Sequence[Mapping[str, Any]]:
        rooms, objects, quests = as_tuple(world_size), as_tuple(nb_objects), as_tuple(quest_length)
        if not all(1 <= r <= MAX_ROOMS for r in rooms):
            raise ValueError(f"world_size must be in 1..{MAX_ROOMS}, got {rooms}")
        if min(objects) < 0 or min(quests) < 1:
            raise ValueError(f"nb_objects must be >= 0 and quest_length >= 1, got {objects} and {quests}")
        n = max(len(rooms), len(objects), len(quests))
        return [{"rooms": rooms[i % len(rooms)], "objects": objects[i % len(objects)],
                 "quest": quests[i % len(quests)]} for i in range(n)]

    def shift(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"world_size": min(2 * max(as_tuple(options["world_size"])), MAX_ROOMS),
                "nb_objects": 2 * max(as_tuple(options["nb_objects"])),
                "quest_length": 2 * max(as_tuple(options["quest_length"]))}
