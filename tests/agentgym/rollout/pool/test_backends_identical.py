"""Every backend gives the same trajectories: same seeds, same scripted policy, same transcripts,
rewards and infos, for every registered environment family."""

import pytest

import agentgym
from agentgym.core.policy import SamplingParams
from agentgym.rollout.collect import collect
from agentgym.rollout.episode import EpisodeSettings
from agentgym.rollout.pool import make_pool
from policies.scripted import NoisyExpertPolicy

# ScienceWorld starts a JVM per environment (4 per backend here): a minute or more per test, so -m slow;
# tests/environments/test_scienceworld.py compares its thread and process transcripts (also slow)
ENV_IDS = [pytest.param(env_id, marks=pytest.mark.slow) if env_id == "agentgym/ScienceWorld-v0" else env_id
           for env_id in agentgym.list_envs("agentgym")]
MAX_STEPS = 6


def transcript(env_id, backend, **pool_kwargs):
    try:
        pool = make_pool(env_id, "valid_seen", 4, max_steps=MAX_STEPS, backend=backend, workers=2, **pool_kwargs)
    except (ModuleNotFoundError, RuntimeError) as exc:
        if "No module named" in str(exc) or isinstance(exc, ModuleNotFoundError):
            pytest.skip(f"{env_id} needs an optional package: {exc}")
        raise
    try:
        trajectories, stats = collect(pool, NoisyExpertPolicy(0.4, seed=0), [{"seed": 11}, {"seed": 12}], 2,
                                      SamplingParams(), EpisodeSettings(), info_keys=("expert_steps_left",))
    finally:
        pool.close()
    assert stats.failed_attempts == 0
    return [(t.traj_id, t.task_id, t.task, t.success, t.score, t.final_observation,
             [(s.prompt, s.action, s.reward, s.observation, s.state_key, s.terminated, s.truncated, dict(s.info))
              for s in t.steps]) for t in trajectories]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_process_backend_plays_exactly_as_the_thread_backend(env_id):
    expected = transcript(env_id, "thread")
    assert len(expected) == 4 and all(steps for *_, steps in expected)
    assert transcript(env_id, "process") == expected


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_ray_backend_plays_exactly_as_the_thread_backend(env_id, ray_cluster):
    assert transcript(env_id, "ray") == transcript(env_id, "thread")
