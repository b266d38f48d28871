"""ALFWorld at engine speed changes nothing: the text-generation caches and the deferred oracle give
byte-identical games, and a deferred expert value read late is the value of the state it came from."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("alfworld")
pytest.importorskip("fast_downward")

from environments.alfworld import textgen_cache  # noqa: E402
from environments.alfworld.env import ALFWorldEnv  # noqa: E402
from environments.alfworld.scenes import TASK_TYPES  # noqa: E402
from environments.alfworld.splits import parse_task_id, split_task_ids  # noqa: E402

pytestmark = pytest.mark.usefixtures("isolated_cache")  # generated games in a fresh cache (conftest)


@pytest.fixture(scope="module", autouse=True)
def caches_back_on():
    """Tests here switch textworld's caches off; the rest of the session runs with them on."""
    yield
    textgen_cache.install()


def games_of_every_type(per_type: int, split: str = "train") -> list[str]:
    """``per_type`` task ids of each type, round-robin (one of each type, then the second of each, ...), so
    any prefix of six or more covers every type."""
    picked: dict[str, list[str]] = {t: [] for t in TASK_TYPES}
    for task_id in split_task_ids(split):
        kind = parse_task_id(task_id)[0]
        if len(picked[kind]) < per_type:
            picked[kind].append(task_id)
    return [ids[i] for i in range(per_type) for ids in picked.values() if i < len(ids)]


def random_walk(task_ids: list[str], steps_per_game: int, seed: int = 0) -> list[tuple]:
    """Everything the environment shows along seeded random walks (expert values left unread)."""
    env, rng, seen = ALFWorldEnv(split="train"), random.Random(seed), []
    for task_id in task_ids:
        obs, info = env.reset(options={"task_id": task_id})
        seen.append((obs, tuple(info["admissible_actions"]), info["state_key"]))
        for _ in range(steps_per_game):
            action = rng.choice(info["admissible_actions"])
            obs, reward, terminated, truncated, info = env.step(action)
            seen.append((action, obs, reward, terminated, tuple(info["admissible_actions"]), info["state_key"]))
            if terminated or truncated:
                break
    return seen


def _compare_with_and_without_caches(task_ids: list[str], steps_per_game: int) -> int:
    assert textgen_cache.install(), "the caches should be on for the checked textworld version"
    cached = random_walk(task_ids, steps_per_game)
    textgen_cache.uninstall()
    try:
        plain = random_walk(task_ids, steps_per_game)
    finally:
        textgen_cache.install()
    assert len(cached) == len(plain)
    for i, (a, b) in enumerate(zip(cached, plain)):
        assert a == b, f"step {i} differs"
    return len(cached)


def test_caches_leave_every_observation_command_and_state_key_identical():
    assert _compare_with_and_without_caches(games_of_every_type(1), steps_per_game=12) > 6 * 10


@pytest.mark.slow
def test_caches_are_identical_over_1000_random_steps_on_20_games_of_all_six_types():
    task_ids = games_of_every_type(4)[:20]
    assert len({parse_task_id(t)[0] for t in task_ids}) == 6
    assert _compare_with_and_without_caches(task_ids, steps_per_game=50) >= 1000


def test_caches_can_be_switched_off(monkeypatch):
    monkeypatch.setenv(textgen_cache.SWITCH, "0")
    assert textgen_cache.install() is False and not textgen_cache.installed()
    monkeypatch.delenv(textgen_cache.SWITCH)
    assert textgen_cache.install() is True and textgen_cache.installed()


def test_an_unchecked_textworld_version_is_left_alone(monkeypatch):
    monkeypatch.setattr("textworld.__version__", "9.9.9")
    assert textgen_cache.install() is False and not textgen_cache.installed()
    monkeypatch.undo()
    assert textgen_cache.install() is True


def test_expert_values_are_computed_only_when_read_and_late_reads_see_their_own_state():
    task_id = games_of_every_type(1)[0]
    env, rng = ALFWorldEnv(split="train"), random.Random(3)
    _, info = env.reset(options={"task_id": task_id})
    infos, immediate = [info], []
    for _ in range(8):
        assert set(info.deferred_keys()) == {"expert_action", "expert_steps_left"}  # nothing planned yet
        immediate.append((info["expert_action"], info["expert_steps_left"]))
        _, _, terminated, _, info = env.step(rng.choice(info["admissible_actions"]))
        infos.append(info)
        if terminated:
            break
    # the same walk again, reading every info only at the end, after the environment moved on
    env2, rng2 = ALFWorldEnv(split="train"), random.Random(3)
    _, info = env2.reset(options={"task_id": task_id})
    late = [info]
    for _ in range(len(immediate) - 1):
        _, _, _, _, info = env2.step(rng2.choice(info["admissible_actions"]))
        late.append(info)
    env2.reset(options={"task_id": games_of_every_type(1)[1]})  # another game entirely
    assert [(i["expert_action"], i["expert_steps_left"]) for i in late] == immediate
    assert all(isinstance(left, int) and left >= 1 for _, left in immediate)
