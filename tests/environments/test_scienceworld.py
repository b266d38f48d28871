"""ScienceWorld-v0: official splits, rewards worked by hand, the gold-path expert, junk input, a missing Java
runtime, determinism across JVMs and pool backends.

A JVM start costs seconds, so the default suite starts two (the module's environment and check_env's) and
plays quick task types; the tests that start more JVMs or play long gold paths are marked slow. The contract
tests run on every registered environment (tests/agentgym/core/test_env_contract.py, the pool backends) mark
ScienceWorld slow there for the same reason."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("scienceworld")

import psutil  # noqa: E402

import agentgym  # noqa: E402
from agentgym.rollout.pool import default_backend, make_pool  # noqa: E402
from environments.scienceworld import gold_paths  # noqa: E402
from environments.scienceworld.env import COMMAND_HINT, FAILED, UNKNOWN_COMMAND  # noqa: E402
from environments.scienceworld.tasks import SPLIT_SIZES, TASK_TYPES, parse_task_id, split_task_ids  # noqa: E402

ENV_ID = "agentgym/ScienceWorld-v0"
QUICK = ("lifespan-longest-lived", "find-animal", "chemistry-mix-paint-secondary-color")  # gold paths of 3-16 steps
pytestmark = pytest.mark.usefixtures("isolated_cache")  # gold paths cached in a fresh folder (conftest)


@pytest.fixture(scope="module")
def env():
    env = agentgym.make(ENV_ID, split="valid_unseen")
    yield env.unwrapped
    env.close()


def test_splits_are_the_official_variation_ranges():
    assert len(TASK_TYPES) == 30
    assert [len(split_task_ids(s)) for s in agentgym.SPLITS] == [3592, 1796, 1819]
    # boil has 30 variations: 0-13 train, 14-20 dev, 21-29 test
    assert SPLIT_SIZES["boil"] == (14, 7, 9)
    assert split_task_ids("valid_seen")[:2] == ("boil-14", "melt-14")  # types interleaved, official order
    assert split_task_ids("valid_unseen")[29] == "mendelian-genetics-unknown-plant-360"
    assert split_task_ids("valid_unseen")[30] == "boil-22"
    assert split_task_ids("valid_unseen", ("find-animal",))[:2] == ("find-animal-225", "find-animal-226")
    assert parse_task_id("lifespan-longest-lived-then-shortest-lived-93") == (
        "lifespan-longest-lived-then-shortest-lived", 93)
    for bad in ("boil", "boil-x", "boiling-3", ""):
        with pytest.raises(ValueError, match="not a ScienceWorld task id"):
            parse_task_id(bad)


@pytest.mark.slow
def test_split_table_matches_the_simulator():
    from environments.scienceworld.engine import ScienceWorldEngine

    engine = ScienceWorldEngine()
    try:
        for task_type in TASK_TYPES:
            engine.load(task_type, 0, "")
            sizes = (len(engine.get_variations_train()), len(engine.get_variations_dev()),
                     len(engine.get_variations_test()))
            assert sizes == SPLIT_SIZES[task_type], task_type
            n_train, n_dev, _ = sizes
            assert engine.get_variations_dev()[0] == n_train and engine.get_variations_test()[0] == n_train + n_dev
    finally:
        engine.close()


def test_a_task_outside_the_split_is_refused(env):
    with pytest.raises(ValueError, match="not in split 'valid_unseen'"):
        env.reset(options={"task_id": "boil-0"})  # a train variation
    with pytest.raises(ValueError, match="Unknown ScienceWorld task types"):
        agentgym.make(ENV_ID, task_types=["boiling"])


def test_rewards_and_expert_by_hand(env):
    """lifespan-longest-lived-93: the gold path opens the door (score 0), goes outside (50) and focuses on the
    crocodile (100, completed): rewards 0, 0.5, 0.5; the expert's steps left count down 3, 2, 1, 0."""
    obs, info = env.reset(options={"task_id": "lifespan-longest-lived-93"})
    assert obs.startswith("Your task is to find the animal with the longest life span.")
    assert "This room is called the greenhouse." in obs
    assert info["task_type"] == "lifespan-longest-lived" and info["score"] == 0.0
    seen = []
    while info["expert_action"] is not None:
        seen.append(info["expert_steps_left"])
        obs, reward, terminated, truncated, info = env.step(info["expert_action"])
        seen.append((reward, terminated, info["score"]))
    assert seen == [3, (0.0, False, 0.0), 2, (0.5, False, 0.5), 1, (0.5, True, 1.0)]
    assert info["success"] and info["expert_steps_left"] == 0 and not truncated
    assert obs == "You focus on the crocodile egg."


def test_find_animal_scores_by_hand(env):
    """find-animal-225: the first two gold actions earn 8 and 9 points; focusing on the wrong thing then fails
    the task (score -100): reward -0.17 so the episode's rewards sum to 0, terminated, not a success."""
    _, info = env.reset(options={"task_id": "find-animal-225"})
    assert info["expert_steps_left"] == 16 and env.max_steps == 100  # max(100, 2 x 16)
    rewards = []
    for action in ("open door to hallway", "go to hallway"):
        _, reward, _, _, info = env.step(action)
        rewards.append(reward)
    assert rewards == [0.08, 0.09] and info["score"] == 0.17
    obs, reward, terminated, _, info = env.step("focus on air")
    assert obs == "You focus on the air." + FAILED
    assert reward == pytest.approx(-0.17) and terminated and not info["success"] and info["score"] == 0.0


def test_junk_is_explained_and_changes_nothing(env):
    _, info = env.reset(options={"task_id": "find-animal-225"})
    key, expert = info["state_key"], info["expert_action"]
    obs, reward, terminated, _, info = env.step("fly to the moon")
    assert obs == UNKNOWN_COMMAND + COMMAND_HINT and not info["action_valid"]
    assert (reward, terminated, info["state_key"], info["expert_action"]) == (0.0, False, key, expert)
    obs, *_, info = env.step("open " * 100)
    assert obs.startswith("That command is 499 characters long") and not info["action_valid"]
    _, _, _, _, info = env.step("look around")  # a free action (no move counted): still on the gold path
    assert info["action_valid"] and info["expert_action"] == expert and info["state_key"] == key
    _, _, _, _, info = env.step("look at table")  # a move off the gold path: the expert has no action now
    assert info["action_valid"] and info["expert_action"] is None and info["expert_steps_left"] is None


def test_ambiguity_prompt_offers_numbers_by_hand(env):
    """lifespan-longest-lived-93 starts in the greenhouse with doors to the hallway and outside: "open door" is
    ambiguous, so the simulator asks which (admissible: the numbers) and nothing moves; the ambiguous command
    leaves the gold path. "1" opens the door to outside, and going outside then earns the 50 points."""
    env.reset(options={"task_id": "lifespan-longest-lived-93"})
    obs, reward, terminated, _, info = env.step("open door")
    assert obs.startswith("Ambiguous request") and "1:\topen door between greenhouse and outside" in obs
    assert info["admissible_actions"] == ["0", "1"] and info["action_valid"]
    assert (reward, terminated, info["expert_action"], info["expert_steps_left"]) == (0.0, False, None, None)
    obs, reward, *_ = env.step("1")
    assert (obs, reward) == ("The door is now open.", 0.0)
    _, reward, _, _, info = env.step("go to outside")
    assert reward == 0.5 and info["score"] == 0.5 and "0" not in info["admissible_actions"]


@pytest.mark.slow
def test_gold_path_answers_an_ambiguity_prompt():
    """grow-plant-93's gold path moves a seed to "flower pot 1", which two pots answer to: the simulator asks,
    the admissible actions are the numbers, the gold path's next action is one of them, and it solves the task."""
    env = agentgym.make(ENV_ID, split="valid_unseen").unwrapped
    try:
        _, info = env.reset(options={"task_id": "grow-plant-93"})
        asked = 0
        while info["expert_action"] is not None:
            obs, _, terminated, _, info = env.step(info["expert_action"])
            if obs.startswith("Ambiguous request"):
                asked += 1
                assert info["admissible_actions"] == [str(i) for i in range(len(info["admissible_actions"]))]
                assert info["expert_action"] in info["admissible_actions"]
        assert asked == 1 and info["success"]
    finally:
        env.close()


def test_check_env_on_quick_task_types():
    env = agentgym.make(ENV_ID, split="valid_seen", task_types=QUICK)
    try:
        report = agentgym.check_env(env, n_random_actions=300, verbose=False)
    finally:
        env.close()
    assert set(report.expert_steps) == {0, 1, 2} and all(n >= 3 for n in report.expert_steps.values())


@pytest.mark.slow
def test_thousand_adversarial_actions_never_raise(env):
    from agentgym.core.checker import adversarial_actions

    env.reset(options={"task_id": "lifespan-longest-lived-93"})
    for action in adversarial_actions(1000, seed=5):
        obs, _, terminated, truncated, info = env.step(action)
        assert isinstance(obs, str) and info["state_key"]
        if terminated or truncated:
            env.reset(options={"task_id": "lifespan-longest-lived-93"})


def _expert_solves(env, task_ids) -> None:
    """The gold path, followed from the reset, solves each task in exactly its announced number of steps."""
    for task_id in task_ids:
        _, info = env.reset(options={"task_id": task_id})
        planned, steps = info["expert_steps_left"], 0
        while info["expert_action"] is not None:
            _, _, terminated, truncated, info = env.step(info["expert_action"])
            steps += 1
        assert info["success"] and steps == planned and terminated and not truncated, task_id


def test_expert_solves_the_first_held_out_tasks_of_quick_types(env):
    _expert_solves(env, split_task_ids("valid_unseen", QUICK)[:4])


@pytest.mark.slow
@pytest.mark.parametrize("split", ["valid_seen", "valid_unseen"])
def test_expert_solves_the_first_20_held_out_tasks(split):
    """The done-when figure of issue 44: the first 20 tasks of each held-out split (20 task types), gold paths
    of 3 to 96 steps (measured: docs/benchmarks.md)."""
    env = agentgym.make(ENV_ID, split=split).unwrapped
    try:
        _expert_solves(env, env.task_ids()[:20])
    finally:
        env.close()


@pytest.mark.slow
def test_gold_path_is_cached_and_plays_the_same_in_a_new_jvm():
    first = agentgym.make(ENV_ID, split="valid_unseen").unwrapped
    try:
        obs_a, info_a = first.reset(options={"task_id": "find-animal-226"})
        gold = gold_paths.read_gold("find-animal-226")
        assert gold and gold[0] == info_a["expert_action"]
        keys_a = [first.step(a)[4]["state_key"] for a in gold]
    finally:
        first.close()
    (gold_paths.gold_folder() / "find-animal-226.json").write_text("{damaged")
    second = agentgym.make(ENV_ID, split="valid_unseen").unwrapped  # a new JVM; the damaged file is rewritten
    try:
        obs_b, info_b = second.reset(options={"task_id": "find-animal-226"})
        assert (obs_b, info_b["state_key"]) == (obs_a, info_a["state_key"])
        assert [second.step(a)[4]["state_key"] for a in gold] == keys_a
        assert gold_paths.read_gold("find-animal-226") == gold
    finally:
        second.close()


@pytest.mark.slow
def test_close_stops_the_jvm():
    env = agentgym.make(ENV_ID, split="valid_unseen").unwrapped
    env.reset(options={"task_id": "lifespan-longest-lived-93"})
    jvm = psutil.Process(env._engine.java_process.pid)
    env.close()
    env.close()  # idempotent
    assert not jvm.is_running() or jvm.status() == psutil.STATUS_ZOMBIE


def test_missing_java_names_the_fix(tmp_path):
    script = textwrap.dedent("""
        import agentgym
        env = agentgym.make("agentgym/ScienceWorld-v0", split="valid_unseen")
        try:
            env.reset(seed=0)
        except Exception as exc:
            print(type(exc).__name__, exc)
    """)
    for java_home in (None, str(tmp_path)):  # nothing at all; a JAVA_HOME without bin/java
        environ = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
        environ["PATH"] = str(tmp_path / "empty")
        if java_home:
            environ["JAVA_HOME"] = java_home
        out = subprocess.run([sys.executable, "-c", script], env=environ, capture_output=True, text=True,
                             timeout=120).stdout
        assert out.startswith("JavaRuntimeMissing agentgym/ScienceWorld-v0 needs a Java runtime"), out
        assert "apt-get install default-jre-headless" in out and "JAVA_HOME" in out


def test_default_pool_backend_is_threads():
    assert default_backend(ENV_ID) == "thread"


@pytest.mark.slow
def test_backends_play_identical_transcripts():
    """The same actions (gold steps, junk, a detour) on the thread and process backends: same observations,
    rewards, ends, state keys, admissible actions and expert, step for step."""
    tasks = ["lifespan-longest-lived-93", "find-animal-225"]
    script = ["open door to hallway", "dance", "look at table", "open door to outside", "go to outside",
              "focus on crocodile", "go to hallway"]

    def play(backend):
        pool = make_pool(ENV_ID, "valid_unseen", 2, backend=backend, workers=2)
        try:
            rows = [pool.reset([0, 1], [{"options": {"task_id": t}} for t in tasks])]
            for action in script:
                rows.append(pool.step([0, 1], [action, action]))
        finally:
            pool.close()
        return [[(r[0], *r[1:-1], {k: r[-1][k] for k in ("state_key", "admissible_actions", "expert_action",
                                                          "expert_steps_left", "score", "action_valid")})
                 for r in row] for row in rows]

    threads = play("thread")
    assert threads[6][0][1:4] == (0.5, True, False)  # the crocodile: lifespan-longest-lived-93 completed
    assert play("process") == threads
