"""TextWorld pieces that need no generated game: commands, feedback, state keys, task ids, splits."""

import pytest

from agentgym.core.registry import SPLITS
from environments.textworld.custom import CustomTextWorld
from environments.textworld.families import (
    CoinCollectorTextWorld,
    CookingTextWorld,
    SimpleTextWorld,
    TreasureHunterTextWorld,
)
from environments.textworld.game_files import TextWorldGameFiles, expand_game_files
from environments.textworld.generation import GameSpec
from environments.textworld.state import state_key
from environments.textworld.text import clean_feedback, to_command


@pytest.mark.parametrize("action, command", [
    ("open fridge", "open fridge"),
    ("  Open   the Fridge.  ", "open the fridge"),
    ("> take knife from table", "take knife from table"),
    ("x cookbook", "examine cookbook"),
    ("i", "inventory"),
    ("n", "go north"),
    ("go w", "go west"),
    ("north", "go north"),
    ("get coin", "take coin"),
    ("pick up coin", "take coin"),
    ('"eat meal"', "eat meal"),
])
def test_commands_are_canonicalised(action, command):
    assert to_command(action) == (command, None)


@pytest.mark.parametrize("action", [
    "", "   ", "restart", "quit", "Q", "save game", "undo", "tw-trace-actions", "tw-extra-infos score",
    "take knife. open fridge", "take knife; open fridge", "take knife then open fridge", "移动到北边",
    "ü", "a" * 201, "verbose", "again",
])
def test_unusable_commands_are_refused_with_a_reason(action):
    command, problem = to_command(action)
    assert command == ""
    assert problem and "Nothing happened" in problem


def test_feedback_loses_banner_and_end_prompt():
    raw = ("\n\n   ________  ________\n  |        \\|        \\\n   \\$$$$$$$$| $$$$$$$$\n\n"
           "You are hungry!\n\n-= Kitchen =-\nA kitchen.\n\n\n\n"
           "Would you like to RESTART, RESTORE a saved game, QUIT or UNDO the last command?\n> ")
    assert clean_feedback(raw) == "You are hungry!\n\n-= Kitchen =-\nA kitchen."
    assert clean_feedback("") == "Nothing happens."


def test_feedback_loses_the_command_prompt_and_its_status_bar():
    raw = ("\n\n-= Kitchenette =-\nYou arrive in a kitchenette.\n\nThere is an exit to the west.\n\n\n\n"
           ">" + " " * 60 + "-= Kitchenette =-0/2")
    assert clean_feedback(raw) == "-= Kitchenette =-\nYou arrive in a kitchenette.\n\nThere is an exit to the west."
    assert clean_feedback("> " + " " * 40 + "-= Attic =-1/7") == "Nothing happens."
    assert clean_feedback("Taken.\n>quoted line stays\nDone.") == "Taken.\n>quoted line stays\nDone."


def test_state_key_lists_changes_since_start_sorted():
    start = frozenset({"at(P, kitchen)", "closed(fridge)", "on(knife, table)"})
    now = frozenset({"at(P, kitchen)", "open(fridge)", "in(knife, I)"})
    assert state_key(start, start, 0) == "score 0 | initial"
    assert state_key(start, now, 2) == "score 2 | +in(knife, I) +open(fridge) -closed(fridge) -on(knife, table)"


def test_task_id_names_family_settings_and_seed():
    spec = GameSpec("cooking", {"recipe": 2, "go": 6, "open": True, "cut": False, "split": "train"}, 17)
    assert spec.task_id == "cooking-recipe2+go6+open+splittrain-17"


def test_splits_are_disjoint_and_ids_are_cheap(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTGYM_CACHE", str(tmp_path))
    for cls in (SimpleTextWorld, CookingTextWorld, CoinCollectorTextWorld, TreasureHunterTextWorld, CustomTextWorld):
        ids = {split: set(cls(split=split).task_ids()) for split in SPLITS}
        assert len(ids["train"]) == 10_000 and len(ids["valid_seen"]) == len(ids["valid_unseen"]) == 100
        assert not ids["train"] & ids["valid_seen"] and not ids["train"] & ids["valid_unseen"]
        assert not ids["valid_seen"] & ids["valid_unseen"]
    assert not any(tmp_path.rglob("*.z8")), "building task ids must not generate games"


def test_valid_unseen_is_larger_or_longer():
    assert CookingTextWorld(split="valid_unseen").options == {
        "recipe": 3, "take": 2, "go": 9, "open": True, "cook": True, "cut": True, "split": "valid"}
    assert CookingTextWorld(split="valid_unseen", recipe=5, take=5, go=12).options["go"] == 12
    assert CustomTextWorld(split="valid_unseen", world_size=(2, 4)).options == {
        "world_size": 8, "nb_objects": 12, "quest_length": 8}
    assert CoinCollectorTextWorld(split="valid_unseen").options["levels"] == (106, 107, 108, 109, 110)
    assert TreasureHunterTextWorld(split="valid_unseen").options["levels"] == tuple(range(11, 21))
    assert SimpleTextWorld(split="valid_unseen").task_ids()[0] == "simple-rewardsdense+goaldetailed+test-2000000"
    override = CustomTextWorld(split="valid_unseen", unseen={"quest_length": 5})
    assert override.options["quest_length"] == 5 and override.options["world_size"] == 6


def test_options_cycle_over_tasks():
    env = CustomTextWorld(world_size=(2, 4), quest_length=3, num_tasks=4)
    assert list(env.task_ids()) == ["custom-rooms2+objects6+quest3-0", "custom-rooms4+objects6+quest3-1",
                                    "custom-rooms2+objects6+quest3-2", "custom-rooms4+objects6+quest3-3"]
    assert env.task_type_of("custom-rooms4+objects6+quest3-3") == "custom/rooms4+objects6+quest3"
    with pytest.raises(ValueError):
        env.spec_of("custom-rooms2+objects6+quest3-1")


@pytest.mark.parametrize("cls, kwargs", [
    (CookingTextWorld, {"take": 3, "recipe": 2}), (CookingTextWorld, {"go": 7}), (CoinCollectorTextWorld, {"levels": 301}),
    (TreasureHunterTextWorld, {"levels": (0, 5)}), (SimpleTextWorld, {"rewards": "often"}),
    (CustomTextWorld, {"world_size": 101}), (CustomTextWorld, {"reward": "bonus"}),
])
def test_bad_options_fail_at_construction(cls, kwargs):
    with pytest.raises(ValueError):
        cls(**kwargs)


def test_game_files_are_checked(tmp_path):
    (tmp_path / "old.ulx").write_bytes(b"Glul")
    (tmp_path / "lonely.z8").write_bytes(b"\x08")
    with pytest.raises(ValueError, match="Glulx"):
        expand_game_files(tmp_path / "old.ulx")
    with pytest.raises(ValueError, match="json"):
        expand_game_files([str(tmp_path / "lonely.z8")])
    with pytest.raises(FileNotFoundError):
        expand_game_files(str(tmp_path / "missing.z8"))
    (tmp_path / "lonely.json").write_text("{}")
    assert expand_game_files(str(tmp_path / "*.z8")) == [(tmp_path / "lonely.z8").resolve()]
    env = TextWorldGameFiles(game_files={"train": [tmp_path / "lonely.z8", tmp_path / "lonely.z8"]})
    assert list(env.task_ids()) == ["lonely", "lonely~2"]
    assert list(TextWorldGameFiles(split="valid_seen", game_files={"train": [tmp_path]}).task_ids()) == []


def test_default_game_files_are_tw_make_custom_defaults():
    env = TextWorldGameFiles(split="valid_unseen")
    assert env.task_ids()[0] == "custom-rooms8+objects16+quest8-2000000" and len(env.task_ids()) == 20
    assert TextWorldGameFiles().task_ids()[:2] == ["custom-rooms5+objects10+quest5-0", "custom-rooms5+objects10+quest5-1"]
