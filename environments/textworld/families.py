"""textworld's four built-in challenges as environment families: Simple, Cooking, CoinCollector and
TreasureHunter. (``custom.py`` holds the Custom family of free-size worlds.)"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from environments.textworld.generated import GeneratedTextWorld, as_tuple

_COMMON_SECTIONS = """
    ## Observation
    textworld's feedback text (room descriptions, results of actions), without its ASCII banner.
    The task (the game's objective) is in ``info["task"]``.

    ## Actions
    One text command per step, e.g. ``open fridge``, ``take knife from table``, ``go north``.
    ``info["admissible_actions"]`` lists the commands textworld accepts in the current state
    (``None`` with ``free_form=True``, the harder setting where the agent must phrase commands
    itself). Abbreviations ``x``, ``i``, ``l``, ``n``/``s``/``e``/``w`` are expanded. Meta
    commands (``restart``, ``quit``, ``save``, ``undo``, ``tw-*``), several commands in one line,
    and non-ASCII text are refused with an explanation. ``action_valid`` is true when the command
    was admissible or changed the game.

    ## Rewards
    ``reward="score"`` (default): textworld's score increase divided by the game's max score, so
    an episode's rewards sum to the final task score (1.0 on a win). ``reward="success"``: 1.0 on
    winning only. ``info["score"]`` is score / max score.

    ## Episode End
    Terminated when textworld reports ``won`` (success) or ``lost`` (failure); truncated after
    ``max_steps`` (default: max(50, 2 x the expert's plan length at the start)).

    ## Expert and state
    ``expert_action``/``expert_steps_left`` come from textworld's planner (``policy_commands``),
    replanned after every step. ``state_key`` lists the game facts changed since the start plus the
    score, so it is identical for identical game states.

    ## Arguments
    ``split``, ``max_steps``, ``free_form`` (False), ``reward`` ("score"), ``num_tasks`` (train 10000,
    valid 100 each), ``unseen`` (option overrides for ``valid_unseen``), plus the family options.
"""


class SimpleTextWorld(GeneratedTextWorld):
    __doc__ = """
    ## Description
    textworld's ``tw-simple`` challenge: a fixed six-room house; find the old key, leave the locked
    bedroom, fetch the right food item and put it on the stove. Seeds vary the key's hiding place,
    the food and the text.
    """ + _COMMON_SECTIONS + """
    ## Starting State
    The player in the bedroom with its door locked.

    ## Splits
    ``train`` seeds 0.., ``valid_seen`` 1,000,000.., ``valid_unseen`` 2,000,000.. with textworld's
    test food names (garlic, kiwi, carrot), which never occur in training. The house is fixed, so
    the shift is in the items, not in the size.

    ## Family options
    ``rewards``: "dense" (default; a point per sub-goal), "balanced" or "sparse".
    ``goal``: "detailed" (default; step by step), "brief" or "none" (the agent gets no goal).

    ## Version History
    * v0: initial version.
    """
    family = "simple"

    def __init__(self, split: str = "train", rewards: str = "dense", goal: str = "detailed", **kwargs: Any):
        if rewards not in ("dense", "balanced", "sparse"):
            raise ValueError(f"rewards must be dense, balanced or sparse, got {rewards!r}")
        if goal not in ("detailed", "brief", "none"):
            raise ValueError(f"goal must be detailed, brief or none, got {goal!r}")
        super().__init__(split, options={"rewards": rewards, "goal": goal, "test": False}, **kwargs)

    def settings_cycle(self, rewards: str, goal: str, test: bool) -> Sequence[Mapping[str, Any]]:
        return [{"rewards": rewards, "goal": goal, "test": bool(test)}]

    def shift(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"test": True}


COOKING_GO = (1, 6, 9, 12)
MAX_RECIPE = 5


class CookingTextWorld(GeneratedTextWorld):
    __doc__ = """
    ## Description
    textworld's ``tw-cooking`` challenge (the First TextWorld Problems games): read the cookbook,
    gather the ingredients across the house, slice/dice/chop and fry/roast/grill them as the recipe
    says, then prepare and eat the meal.
    """ + _COMMON_SECTIONS + """
    ## Starting State
    The player somewhere in the house, sometimes carrying items; the cookbook is in the kitchen.

    ## Splits
    ``train`` seeds 0.. and ``valid_seen`` seeds 1,000,000.. use textworld's training foods.
    ``valid_unseen`` (seeds 2,000,000..) uses textworld's "valid" foods and preparations, one more
    ingredient in the recipe (at most 5), one more to fetch, and the next larger house
    (1 -> 6 -> 9 -> 12 rooms).

    ## Family options
    ``recipe`` (2): ingredients in the recipe; ``take`` (1): ingredients to find (<= recipe);
    ``go`` (6): rooms, one of 1, 6, 9, 12; ``open`` (True): containers and doors must be opened;
    ``cook`` (True): ingredients must be cooked; ``cut`` (True): ingredients must be cut.

    ## Version History
    * v0: initial version.
    """
    family = "cooking"

    def __init__(self, split: str = "train", recipe: int = 2, take: int = 1, go: int = 6, open: bool = True,
                 cook: bool = True, cut: bool = True, **kwargs: Any):
        options = {"recipe": recipe, "take": take, "go": go, "open": open, "cook": cook, "cut": cut,
                   "split": "train"}
        super().__init__(split, options=options, **kwargs)

    def settings_cycle(self, recipe: int, take: int, go: int, open: bool, cook: bool, cut: bool,
                       split: str) -> Sequence[Mapping[str, Any]]:
        recipe, take, go = int(recipe), int(take), int(go)
        if not 1 <= recipe <= MAX_RECIPE:
            raise ValueError(f"recipe must be in 1..{MAX_RECIPE}, got {recipe}")
        if not 0 <= take <= recipe:
            raise ValueError(f"take must be in 0..recipe ({recipe}), got {take}")
        if go not in COOKING_GO:
            raise ValueError(f"go must be one of {COOKING_GO}, got {go}")
        if split not in ("train", "valid", "test"):
            raise ValueError(f"split (textworld's food split) must be train, valid or test, got {split!r}")
        return [{"recipe": recipe, "take": take, "go": go, "open": bool(open), "cook": bool(cook),
                 "cut": bool(cut), "split": split}]

    def shift(self, options: Mapping[str, Any]) -> dict[str, Any]:
        recipe = min(int(options["recipe"]) + 1, MAX_RECIPE)
        bigger = [g for g in COOKING_GO if g > int(options["go"])]
        return {"recipe": recipe, "take": min(int(options["take"]) + 1, recipe),
                "go": bigger[0] if bigger else COOKING_GO[-1], "split": "valid"}


class CoinCollectorTextWorld(GeneratedTextWorld):
    __doc__ = """
    ## Description
    textworld's ``tw-coin_collector`` challenge: a chain of rooms with dead-end distractor rooms;
    find the coin at the far end and take it. Pure navigation and memory.
    """ + _COMMON_SECTIONS + """
    ## Starting State
    The player at one end of the chain; the coin at the other.

    ## Splits
    Task i uses ``levels[i % len(levels)]``. ``train`` (seeds 0..) and ``valid_seen`` (1,000,000..)
    use levels 101-105 (quest length 1-5, twice as many rooms with distractors); ``valid_unseen``
    (2,000,000..) shifts every level by the number of levels (default 106-110: quests of 6-10 rooms
    in worlds of 12-20 rooms).

    ## Family options
    ``levels`` (101..105): textworld levels 1-300; quest length = (level - 1) % 100 + 1, and
    levels above 100 add distractor rooms (above 200: placed at random).

    ## Version History
    * v0: initial version.
    """
    family = "coin"
    max_level = 300

    def __init__(self, split: str = "train", levels: int | Iterable[int] = (101, 102, 103, 104, 105), **kwargs: Any):
        super().__init__(split, options={"levels": as_tuple(levels)}, **kwargs)

    def settings_cycle(self, levels: Iterable[int]) -> Sequence[Mapping[str, Any]]:
        levels = as_tuple(levels)
        bad = [lv for lv in levels if not 1 <= lv <= self.max_level]
        if bad:
            raise ValueError(f"{type(self).__name__} levels must be in 1..{self.max_level}, got {bad}")
        return [{"level": lv} for lv in levels]

    def shift(self, options: Mapping[str, Any]) -> dict[str, Any]:
        levels = as_tuple(options["levels"])
        return {"levels": tuple(min(lv + len(levels), self.max_level) for lv in levels)}


class TreasureHunterTextWorld(CoinCollectorTextWorld):
    __doc__ = """
    ## Description
    textworld's ``tw-treasure_hunter`` challenge: find a named object somewhere in a maze of rooms;
    harder levels add closed or locked doors and containers (keys are provided) and distractors.
    """ + _COMMON_SECTIONS + """
    ## Starting State
    The player in a random room of the maze; the objective names the object to find.

    ## Splits
    Task i uses ``levels[i % len(levels)]``. ``train`` (seeds 0..) and ``valid_seen`` (1,000,000..)
    use levels 1-10 (5 rooms, quests of 1-5 actions); ``valid_unseen`` (2,000,000..) adds 10 to
    every level (default 11-20: 10 rooms with closed doors and containers, quests of 2-10 actions).

    ## Family options
    ``levels`` (1..10): textworld levels 1-30 (1-10 easy, 11-20 medium, 21-30 hard).

    ## Version History
    * v0: initial version.
    """
    family = "treasure"
    max_level = 30

    def __init__(self, split: str = "train", levels: int | Iterable[int] = tuple(range(1, 11)), **kwargs: Any):
        super().__init__(split, levels=levels, **kwargs)

    def shift(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"levels": tuple(min(lv + 10, self.max_level) for lv in as_tuple(options["levels"]))}
