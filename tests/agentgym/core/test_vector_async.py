"""``gymnasium.make_vec(..., vectorization_mode="async")`` at its default settings: gymnasium's async vector
env puts observations in shared memory, which it once could not make for ``FreeText``."""

import copy

import gymnasium
import pytest

import agentgym
from agentgym.core.spaces import FreeText

ENV_ID = "agentgym/FrozenLake-v1"


def _play(vectorization_mode):
    envs = gymnasium.make_vec(ENV_ID, num_envs=3, vectorization_mode=vectorization_mode)
    try:
        observations, info = envs.reset(seed=5)
        rows = [observations]
        # the expert's first move, then unknown actions: no episode ends (gymnasium cannot merge the info of a
        # finished episode, whose expert_steps_left is None, with an int from another; a separate defect)
        for actions in (list(info["expert_action"]), ["jump"] * 3, ["fly", "swim", "dig"]):
            observations, rewards, terminated, truncated, info = envs.step(actions)
            rows.append((observations, rewards.tolist(), terminated.tolist(), truncated.tolist()))
        assert not any(terminated) and list(info["action_valid"]) == [False] * 3
        return rows
    finally:
        envs.close()


def test_async_at_default_settings_plays_as_sync_does():
    played = _play("async")
    assert played == _play("sync")
    assert all(isinstance(o, tuple) and len(o) == 3 and all(o) for o in [played[0]] + [r[0] for r in played[1:]])


def test_shared_memory_round_trip_keeps_any_text_up_to_max_length():
    import multiprocessing

    from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

    space = FreeText(max_length=12)
    memory = create_shared_memory(space, n=3, ctx=multiprocessing.get_context())
    texts = ("", "Größe 𝄞 ok", "x" * 12)
    for i, text in enumerate(texts):
        write_to_shared_memory(space, i, text, memory)
    view = read_from_shared_memory(space, memory, n=3)  # gymnasium reads once and keeps the view
    assert view == texts and copy.deepcopy(view) == texts and type(copy.deepcopy(view)) is tuple
    write_to_shared_memory(space, 1, "later", memory)
    assert view[1] == "later"
    with pytest.raises(ValueError, match="13 characters"):
        write_to_shared_memory(space, 0, "y" * 13, memory)
    assert agentgym.make(ENV_ID).observation_space.max_length == 100_000
