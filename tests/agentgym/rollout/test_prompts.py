"""The per-step prompt: task, the last K steps, the current observation (once), the admissible actions."""

from agentgym.rollout.prompts import SYSTEM_PROMPT, HistoryItem, build_messages, format_action, parse_action

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
