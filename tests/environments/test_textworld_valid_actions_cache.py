"""TextWorld's valid-actions table changes nothing an agent or the contract sees, and is actually used."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("textworld")

import agentgym  # noqa: E402
from environments.textworld import internals  # noqa: E402
from environments.textworld.valid_actions_cache import ValidActionsTable  # noqa: E402

FAMILIES = ["Simple", "Cooking", "CoinCollector", "TreasureHunter", "Custom"]


@pytest.mark.parametrize("family", FAMILIES)
def test_random_walks_are_identical_with_and_without_the_table(family):
    env_id, kwargs = f"agentgym/TextWorld-{family}-v0", {"num_tasks": 2, "max_steps": 20}
    cached, plain = agentgym.make(env_id, **kwargs), agentgym.make(env_id, **kwargs)
    rng, steps = random.Random(3), 0
    for episode in range(4):  # each game twice: the second visit finds its states in the table
        task = {"task_id": cached.unwrapped.task_ids()[episode % 2]}
        obs_c, info_c = cached.reset(options=task)
        with internals.caches_switched(False):
            obs_p, info_p = plain.reset(options=task)
        assert plain.unwrapped.valid_actions is None and cached.unwrapped.valid_actions is not None
        assert obs_c == obs_p
        while True:
            for key in ("admissible_actions", "state_key", "expert_action", "expert_steps_left"):
                assert info_c[key] == info_p[key], key
            action = rng.choice(info_c["admissible_actions"])
            *out_c, info_c = cached.step(action)
            *out_p, info_p = plain.step(action)
            assert out_c == out_p
            steps += 1
            if out_c[2] or out_c[3]:
                break
    table = cached.unwrapped.valid_actions
    assert steps >= 20 and table.hits > 0 and table.misses == len(table)
    cached.close()
    plain.close()


def test_table_computes_a_state_once_and_drops_the_least_recently_used():
    table, calls = ValidActionsTable(max_states=2), []

    def compute(name):
        return lambda: calls.append(name) or iter([name + "-a", name + "-b"])

    a, b, c = frozenset({"at(P, r1)"}), frozenset({"at(P, r2)"}), frozenset({"at(P, r3)"})
    assert table.lookup(a, compute("a")) == ("a-a", "a-b")
    assert table.lookup(a, compute("a")) == ("a-a", "a-b") and calls == ["a"]
    table.lookup(b, compute("b"))
    table.lookup(a, compute("a"))  # a is now the most recent, so c's arrival drops b
    table.lookup(c, compute("c"))
    assert len(table) == 2
    table.lookup(b, compute("b"))
    assert calls == ["a", "b", "c", "b"] and (table.hits, table.misses) == (2, 4)


def test_version_check_and_switch(monkeypatch):
    monkeypatch.setenv(internals.SWITCH, "0")
    assert internals.supported() == (False, f"{internals.SWITCH} turns them off")
    monkeypatch.delenv(internals.SWITCH)
    monkeypatch.setattr("textworld.__version__", "9.9.9")
    ok, why = internals.supported()
    assert not ok and "9.9.9" in why
