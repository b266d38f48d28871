"""``openenv/Remote-v0`` wraps a server written with OpenEnv's own API (``countdown_server.py``, served by
OpenEnv's server): the contract holds through the wrapper, and the shared loop trains on it."""

import pytest

pytest.importorskip("openenv")

import agentgym  # noqa: E402
from agentgym.openenv.server_info import ServerUnavailable  # noqa: E402
from agentgym.util.metrics import read_metrics  # noqa: E402


@pytest.fixture(scope="module")
def countdown_url(openenv_servers):
    return openenv_servers.serve_countdown()[0]


def test_the_wrapper_finds_the_action_and_observation_fields_and_fills_the_contract(countdown_url):
    env = agentgym.make("openenv/Remote-v0", base_url=countdown_url)
    server = env.unwrapped.server
    assert (server.action_field, server.ours, server.splits) == ("word", False, None)
    obs, info = env.reset(seed=4)  # 2 + 4 % 3 = 3
    assert obs == "Count down from 3. Say the next number."
    assert info["task_id"] == "seed=4" and info["state_key"] == obs and info["expert_action"] is None
    obs, reward, terminated, truncated, info = env.step("2")
    assert (obs, reward, terminated, truncated) == ("Right. Now 2. Say the next number.", 0.0, False, False)
    assert info["action_valid"] is True and info["success"] is None  # only the server could say
    obs, _, _, _, info = env.step("boom")  # the server's step raised: explained, and the episode goes on
    assert obs.startswith("The environment rejected that action:") and "exploded" in obs
    assert info["action_valid"] is False and info["state_key"] == "Right. Now 2. Say the next number."
    env.step("1")
    obs, reward, terminated, truncated, info = env.step("0")
    assert (obs, reward, terminated, truncated) == ("Zero! Well done.", 1.0, True, False)
    assert info["success"] is True  # the server's metadata is the info
    obs, *_ = env.step("0")
    assert obs == "The episode is over; call reset() to start a new one."
    env.close()


def test_a_time_limit_the_server_reports_is_truncated_not_terminated(countdown_url):
    env = agentgym.make("openenv/Remote-v0", base_url=countdown_url)
    env.reset(seed=0)
    flags = [env.step("wrong")[2:4] for _ in range(8)]
    assert flags == [(False, False)] * 7 + [(False, True)]
    env.close()


def test_max_steps_is_counted_by_the_wrapper_for_a_foreign_server(countdown_url):
    env = agentgym.make("openenv/Remote-v0", base_url=countdown_url, max_steps=3)
    env.reset(seed=0)
    assert [env.step("wrong")[2:4] for _ in range(3)] == [(False, False), (False, False), (False, True)]
    env.close()


def test_check_env_passes_through_the_wrapper(countdown_url):
    agentgym.check_env(agentgym.make("openenv/Remote-v0", base_url=countdown_url), n_random_actions=300)


def test_a_server_with_no_task_api_cannot_be_asked_for_a_task(countdown_url):
    env = agentgym.make("openenv/Remote-v0", base_url=countdown_url)
    with pytest.raises(RuntimeError, match="no task API"):
        env.unwrapped.task_ids()
    with pytest.raises(ValueError, match="no task API"):
        env.reset(options={"task_id": "seed=1"})


def test_a_server_that_is_not_there_is_a_clear_connection_error(openenv_servers):
    with pytest.raises(ServerUnavailable, match="did not answer /metadata"):
        agentgym.make("openenv/Remote-v0", base_url=f"http://127.0.0.1:{openenv_servers.free_port()}")


def test_train_runs_two_iterations_on_the_openenv_server(countdown_url, micro_model, tmp_path):
    from agentgym.train.config import TrainConfig
    from agentgym.train.loop import run

    config = TrainConfig(env="openenv/Remote-v0", env_kwargs={"base_url": countdown_url}, model=micro_model,
                         run_dir=str(tmp_path / "run"), iterations=2, num_groups=2, group_size=2, max_steps=4,
                         max_new_tokens=6, eval_every=0, eval_at_start=False, checkpoint_every=0,
                         tensorboard=False, progress_bar=False)
    run(config)
    rows = read_metrics(tmp_path / "run")
    assert [r["iteration"] for r in rows] == [1, 2]
    for row in rows:  # 2 x 2 episodes, each cut at 4 steps by the wrapper's limit; none lost to the wire
        assert row["rollout/steps"] == 16 and row["rollout/truncated_rate"] == 1.0
        assert row["rollout/infra_lost_episodes"] == 0 and row["rollout/env_errors"] == 0


def test_the_wrapper_claims_an_expert_only_where_its_server_gives_one(countdown_url):
    """The class cannot know its server, so it claims no expert and no admissible actions (the trainer then
    asks for --model instead of warm-starting the tiny model on an expert that is not there)."""
    from agentgym.core.registry import class_attribute

    assert class_attribute("openenv/Remote-v0", "has_expert") is False
    assert class_attribute("openenv/Remote-v0", "has_admissible_actions") is False
    env = agentgym.make("openenv/Remote-v0", base_url=countdown_url)
    assert (env.unwrapped.has_expert, env.unwrapped.has_admissible_actions) == (False, False)
    env.close()


def test_the_documented_train_command_without_a_model_asks_for_one_in_one_line(countdown_url, tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "agentgym.train", "--env", "openenv/Remote-v0", "--env-kwargs",
                             f"{{base_url: '{countdown_url}'}}", "--run-dir", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "has no expert" in result.stderr and "Pass --model" in result.stderr


def test_train_with_held_out_checks_on_a_server_without_a_task_api(countdown_url, micro_model, tmp_path):
    """The start-of-run evaluation once failed (a held-out check plays named tasks, and this server cannot
    name any): the checks are left out, said once, and the run trains to its end."""
    from agentgym.train.config import TrainConfig
    from agentgym.train.loop import run

    config = TrainConfig(env="openenv/Remote-v0", env_kwargs={"base_url": countdown_url}, model=micro_model,
                         run_dir=str(tmp_path / "run"), iterations=2, num_groups=2, group_size=2, max_steps=4,
                         max_new_tokens=6, eval_every=1, eval_episodes=4, eval_at_start=True, checkpoint_every=0,
                         tensorboard=False, progress_bar=False)
    run(config)
    rows = read_metrics(tmp_path / "run")
    assert [r["iteration"] for r in rows] == [0, 1, 2]
    assert not [key for row in rows for key in row if key.startswith(("eval", "baseline"))]
    assert rows[-1]["rollout/steps"] == 16 and (tmp_path / "run" / "final_policy").is_dir()


def test_the_remote_pool_honours_the_wrappers_text_and_action_fields(countdown_url):
    """pool=remote once dropped text_field and action_field: sessions must read and write the fields the
    wrapper does (here deliberately odd ones, so a dropped setting shows), and find the server by base_url."""
    from agentgym.rollout.pool import make_pool

    kwargs = {"base_url": countdown_url, "text_field": "metadata", "action_field": "metadata"}
    env = agentgym.make("openenv/Remote-v0", **kwargs)
    expected = [env.reset(seed=4)[0], env.step("3")[0]]
    env.close()
    assert expected[0] == "{}" and expected[1].startswith("The environment rejected that action:")
    pool = make_pool("openenv/Remote-v0", "train", 1, kwargs, backend="remote")
    try:
        [(obs, _)] = pool.reset([0], [{"seed": 4}])
        [(obs2, *_)] = pool.step([0], ["3"])
        assert [obs, obs2] == expected
    finally:
        pool.close()
    with pytest.raises(ValueError, match=r"cannot honour openenv/Remote-v0's env_kwargs \['message_timeout_s'\]"):
        make_pool("openenv/Remote-v0", "train", 1, {**kwargs, "message_timeout_s": 5}, backend="remote")
