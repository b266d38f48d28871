"""TextWorld's planner on demand gives exactly what textworld's eager ``policy_commands`` gave."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("textworld")

import agentgym  # noqa: E402

FAMILIES = ["Simple", "Cooking", "CoinCollector", "TreasureHunter", "Custom"]


def eager_expert(env) -> tuple[str | None, int | None]:
    """The old contract values, from textworld's own planner output of this state."""
    state = env.unwrapped._state
    won, lost, plan = bool(state["won"]), bool(state["lost"]), list(state["policy_commands"] or ())
    action = plan[0] if plan and not (won or lost) else None
    return action, 0 if won else None if lost or not plan else len(plan)


@pytest.mark.parametrize("family", FAMILIES)
def test_lazy_expert_matches_textworlds_eager_planner_on_random_walks(family):
    env_id, kwargs = f"agentgym/TextWorld-{family}-v0", {"num_tasks": 2, "max_steps": 25}
    lazy, eager = agentgym.make(env_id, **kwargs), agentgym.make(env_id, **kwargs)
    eager.unwrapped.eager_planner = True  # textworld plans on every step, as before
    rng, read_rng = random.Random(1), random.Random(2)
    kept, steps = [], 0
    for episode in range(3):
        task = {"task_id": lazy.unwrapped.task_ids()[episode % 2]}
        (obs_l, info_l), (obs_e, info_e) = lazy.reset(options=task), eager.reset(options=task)
        assert obs_l == obs_e and lazy.unwrapped.max_steps == eager.unwrapped.max_steps
        while True:
            assert info_l["admissible_actions"] == info_e["admissible_actions"]
            assert info_l["state_key"] == info_e["state_key"]
            expected = eager_expert(eager)
            if read_rng.random() < 0.5:  # read now, or only once the episode (or the next) has moved on
                assert (info_l["expert_action"], info_l["expert_steps_left"]) == expected
            else:
                kept.append((info_l, expected))
            action = rng.choice(info_l["admissible_actions"])
            *out_l, info_l = lazy.step(action)
            *out_e, info_e = eager.step(action)
            assert out_l == out_e
            steps += 1
            if out_l[2] or out_l[3]:
                break
    assert kept and steps >= 20
    for info, expected in reversed(kept):  # late and out of order: each value is still its own state's
        assert (info["expert_action"], info["expert_steps_left"]) == expected
    lazy.close()
    eager.close()
