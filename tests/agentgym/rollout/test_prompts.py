"""The per-step prompt: task, the last K steps, the current observation (once), the admissible actions."""

import pytest

from agentgym.rollout.episode import EpisodeSettings
from agentgym.rollout.prompts import (
    SYSTEM_PROMPT,
    HistoryItem,
    PromptFormat,
    build_messages,
    format_action,
    parse_action,
    prompt_format,
)
from policies.heuristics.view import PromptView

HISTORY = [HistoryItem("go south", "attic"), HistoryItem("go west", "cubicle"), HistoryItem("take coin", "won")]


def test_last_history_step_shows_only_its_action_because_its_result_is_now():
    messages = build_messages("find the coin", "won", HISTORY, ["look"], history_len=2)
    assert messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert messages[1]["content"] == (
        "Task: find the coin\n"
        "Step 2: you did 'go west'. You saw: cubicle\n"
        "Step 3: you did 'take coin'.\n"
        "Now: won\n"
        "Admissible actions: look"
    )


def test_history_window_and_numbering():
    one = build_messages(None, "cubicle", HISTORY[:2], history_len=1)[1]["content"]
    assert one == "Step 2: you did 'go west'.\nNow: cubicle"
    everything = build_messages("t", "won", HISTORY, history_len=10)[1]["content"]
    assert everything.count("You saw:") == 2 and everything.count("won") == 1
    assert build_messages("t", "attic", [], history_len=2)[1]["content"] == "Task: t\nNow: attic"
    assert build_messages("t", "won", HISTORY, history_len=0)[1]["content"] == "Task: t\nNow: won"


def test_action_round_trip():
    assert parse_action(format_action("go north", "the exit is north")) == "go north"
    assert parse_action("no tags here") is None


def test_instruct_style_introduces_the_environment_counts_steps_and_stops_at_the_action():
    fmt = prompt_format("agentgym/FrozenLake-v1", "instruct")
    assert fmt.system_prompt.startswith("You walk across a frozen lake of tiles")
    assert "<think> </think>" in fmt.system_prompt and fmt.system_prompt.endswith("and nothing after it.")
    assert fmt.stop == ("</action>",) and PromptFormat().stop == ()
    messages = fmt.build("find the coin", "won", HISTORY, ["look", "go east"], history_len=2)
    assert messages[1]["content"] == (
        "Task: find the coin\n"
        "You have taken 3 step(s) so far; the last 2 of them:\n"
        "Step 2: you did 'go west'. You saw: cubicle\n"
        "Step 3: you did 'take coin'.\n"
        "Now: won\n"
        "Admissible actions: look, go east"
    )
    first = fmt.build("t", "attic", [], history_len=2)[1]["content"]
    assert first == "Task: t\nYou have taken 0 step(s) so far.\nNow: attic"
    view = PromptView.of(messages)  # the heuristics read both styles alike
    assert (view.task, view.observation, view.admissible) == ("find the coin", "won", ("look", "go east"))
    assert view.past_actions == ("go west", "take coin")


def test_instruct_style_falls_back_to_a_generic_introduction_and_unknown_styles_are_refused():
    assert prompt_format(None, "instruct").intro == "You are an agent acting in a text environment."
    assert prompt_format("agentgym/SQL-v0", "instruct").intro.startswith("You answer a question about a SQLite")
    assert prompt_format("agentgym/FrozenLake-v1").system_prompt == SYSTEM_PROMPT
    with pytest.raises(ValueError, match="prompt_style must be one of"):
        PromptFormat("chatty")
    with pytest.raises(ValueError, match="prompt_style must be one of"):
        EpisodeSettings(prompt_style="chatty").check_episode_settings()
    sampling = EpisodeSettings(prompt_style="instruct").sampling(unset_temperature=1.0)
    assert sampling.stop == ("</action>",) and EpisodeSettings().sampling(unset_temperature=1.0).stop == ()
