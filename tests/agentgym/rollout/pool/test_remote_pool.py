"""``pool=remote``: sessions on OpenEnv servers (``python -m agentgym.serve_env``, real processes)
play exactly as the thread backend, and a server killed mid-episode is an infrastructure failure."""

import json

import pytest

pytest.importorskip("openenv")

from test_backends_identical import transcript  # noqa: E402

import agentgym  # noqa: E402
from agentgym.core.policy import SamplingParams  # noqa: E402
from agentgym.rollout.collect import collect  # noqa: E402
from agentgym.rollout.pool import EnvFailure, make_pool  # noqa: E402
from policies.scripted import ExpertPolicy  # noqa: E402

QUICK = ("agentgym/FrozenLake-v0", "agentgym/SQL-v0", "agentgym/TextWorld-CoinCollector-v0")
ENV_IDS = [e if e in QUICK else pytest.param(e, marks=pytest.mark.slow) for e in agentgym.list_envs("agentgym")]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_remote_backend_plays_exactly_as_the_thread_backend(env_id, openenv_servers):
    if "TextWorld" in env_id or "ALFWorld" in env_id:
        pytest.importorskip("textworld")
    url, server = openenv_servers.serve_env(env_id)
    remote = transcript(env_id, "remote", remote_urls=[url])
    server.kill()  # one environment's server at a time
    assert remote == transcript(env_id, "thread")


def test_a_server_killed_mid_episode_fails_its_episodes_and_they_move_to_the_live_server(tmp_path, openenv_servers):
    """Synthetic-v0's ``kill_once_file`` kills the process its step runs in: here, server A itself."""
    env_id, kwargs = "agentgym/Synthetic-v0", {"kill_once_file": str(tmp_path / "kill")}
    flags = ("--env-kwargs", json.dumps(kwargs))
    (url_a, server_a), (url_b, _) = openenv_servers.serve_env(env_id, *flags), openenv_servers.serve_env(env_id, *flags)
    urls = [url_a, url_b]
    pool = make_pool(env_id, "train", 4, kwargs, backend="remote", remote_urls=urls, step_timeout_s=30)
    try:
        assert all(isinstance(r, tuple) for r in pool.reset(range(4), [{"seed": 1}] * 4))
        [died] = pool.step([0], ["amber"])  # environment 0 is on server A; the first step claims the file
        assert isinstance(died, EnvFailure) and died.kind == "worker_died" and urls[0] in died.message
        assert server_a.wait(timeout=30) == -9  # the server really is gone
        results = pool.step([1, 2], ["amber", "amber"])  # 1 is on B (alive), 2 on A (dead)
        assert isinstance(results[0], tuple)
        assert isinstance(results[1], EnvFailure) and results[1].kind == "worker_died"
        assert pool.worker_restarts == 2
        # the run goes on: fresh sessions, all on server B now, and whole episodes with rewards
        trajectories, stats = collect(pool, ExpertPolicy(), [{"seed": 3}, {"seed": 4}], 2, SamplingParams())
        assert stats.failed_attempts == 0 and len(trajectories) == 4 and all(t.success for t in trajectories)
    finally:
        pool.close()


def test_a_run_refuses_servers_of_another_environment_or_other_kwargs(openenv_servers):
    url = [openenv_servers.serve_env("agentgym/FrozenLake-v0")[0]]
    with pytest.raises(ValueError, match="serves agentgym/FrozenLake-v0, but the run plays agentgym/SQL-v0"):
        make_pool("agentgym/SQL-v0", "train", 2, backend="remote", remote_urls=url)
    with pytest.raises(ValueError, match="--env-kwargs matching"):
        make_pool("agentgym/FrozenLake-v0", "train", 2, {"hole_prob": 0.5}, backend="remote", remote_urls=url)
    with pytest.raises(ValueError, match="needs remote_urls"):
        make_pool("agentgym/FrozenLake-v0", "train", 2, backend="remote")


def test_a_training_run_whose_server_is_killed_goes_on_on_the_other(tmp_path, openenv_servers, micro_model):
    from agentgym.train.config import TrainConfig
    from agentgym.train.loop import run
    from agentgym.util.metrics import read_metrics

    env_id, kwargs = "agentgym/Synthetic-v0", {"kill_once_file": str(tmp_path / "kill")}
    servers = [openenv_servers.serve_env(env_id, "--env-kwargs", json.dumps(kwargs)) for _ in range(2)]
    config = TrainConfig(env=env_id, env_kwargs=kwargs, model=micro_model, run_dir=str(tmp_path / "run"),
                         iterations=3, num_groups=4, group_size=2, max_new_tokens=6, eval_every=0,
                         eval_at_start=False, checkpoint_every=0, tensorboard=False, progress_bar=False,
                         pool="remote", remote_urls=[url for url, _ in servers])
    run(config)
    rows = read_metrics(tmp_path / "run")
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    assert sum(r["rollout/worker_restarts"] for r in rows) >= 1  # the dead server's sessions were reopened
    assert all(r["rollout/infra_lost_episodes"] == 0 for r in rows)  # their episodes were replayed, not lost
    assert sorted(proc.poll() is None for _, proc in servers) == [False, True]  # one server really died
