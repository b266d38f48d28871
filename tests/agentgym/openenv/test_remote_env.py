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
