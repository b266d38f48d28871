"""The context guard: prompts are measured, shortened by the documented rule, and flagged; never cut silently."""

import pytest

from agentgym.rollout.context_guard import ContextGuard, guard_for
from agentgym.rollout.prompts import HistoryItem, build_messages


def chars(prompts):
    """A tokenizer of one token per character (contents only), to work limits out by hand."""
    return [sum(len(m["content"]) for m in p) for p in prompts]


HISTORY = [HistoryItem(f"a{i}", "o" * 100) for i in range(3)]


def test_a_prompt_that_fits_is_left_alone():
    full = build_messages("task", "now", HISTORY, None, 2)
    guard = ContextGuard(chars([full])[0], chars)
    assert guard.build("task", "now", HISTORY, None, 2) == (full, False)


def test_history_goes_first_oldest_step_first():
    one_step = build_messages("task", "now", HISTORY, None, 1)
    guard = ContextGuard(chars([one_step])[0], chars)  # two history steps do not fit, one does
    messages, shortened = guard.build("task", "now", HISTORY, None, 2)
    assert shortened and messages == one_step
    assert "Step 3: you did 'a2'" in messages[1]["content"] and "Step 2" not in messages[1]["content"]


def test_then_the_observation_is_cut_to_its_head_and_tail():
    observation = "H" * 500 + "M" * 2000 + "T" * 500
    no_history = build_messages("task", "", HISTORY, None, 0)
    limit = chars([no_history])[0] + 400  # room for 400 observation characters
    messages, shortened = ContextGuard(limit, chars).build("task", observation, HISTORY, None, 2)
    user = messages[1]["content"]
    assert shortened and chars([messages])[0] <= limit
    assert "Step" not in user and "characters cut ...]" in user
    now = user.split("Now: ", 1)[1]
    assert now.startswith("H") and now.endswith("T") and now.count("M") < 50
    assert "task" in user  # the task is kept whole while cutting the observation suffices


def test_a_prompt_that_cannot_fit_is_an_error_not_a_silent_cut():
    with pytest.raises(ValueError, match="cannot be fitted"):
        ContextGuard(10, chars).build("task", "now", HISTORY, None, 2)  # the system prompt alone is longer


class Counted:
    context_length = 300

    def count_prompt_tokens(self, prompts):
        return chars(prompts)


def test_the_limit_defaults_to_the_context_minus_the_response_budget():
    guard = guard_for(Counted(), None, max_new_tokens=40)
    assert guard.max_prompt_tokens == 260
    assert guard_for(Counted(), 100, 40).max_prompt_tokens == 100
    assert guard_for(object(), None, 40).max_prompt_tokens is None  # a scripted policy: nothing to measure
    with pytest.raises(ValueError):
        guard_for(Counted(), None, max_new_tokens=300)
