"""Rollout collection with a scripted policy: grouping, batching and step records."""

from agentgym.core.policy import Generation, SamplingParams
from agentgym.rollout.collect import collect
from agentgym.rollout.episode import EpisodeSettings
from agentgym.rollout.pool import make_pool
from agentgym.rollout.prompts import format_action


class CountingPolicy:
    """Plays the expert action, except every third call answers without an action tag."""

    def __init__(self):
        self.calls = []

    def generate(self, prompts, sampling, infos=None):
        self.calls.append(len(prompts))
        broken = len(self.calls) % 3 == 0
        return [Generation(text="hmm" if broken else format_action(info["expert_action"]), token_ids=[1, 2],
                           logprobs=[-0.5, -0.25], entropies=[1.0, 3.0]) for info in infos]


def test_groups_share_tasks_and_policy_calls_are_batched():
    pool = make_pool("agentgym/FrozenLake-v0", "train", size=6, backend="thread")
    policy = CountingPolicy()
    trajectories, stats = collect(pool, policy, [{"seed": 1}, {"seed": 2}], group_size=3,
                                  sampling=SamplingParams(), episode=EpisodeSettings(history_len=1))
    pool.close()
    assert [t.group_id for t in trajectories] == [0, 0, 0, 1, 1, 1]
    assert [t.traj_id for t in trajectories] == list(range(6))
    assert len({t.task_id for t in trajectories[:3]}) == 1 and len({t.task_id for t in trajectories[3:]}) == 1
    assert policy.calls[0] == 6  # one generate call for all environments
    assert stats.policy_calls == len(policy.calls) and stats.steps == sum(len(t) for t in trajectories)
    assert all(t.success for t in trajectories)  # the broken answers only cost a step


def test_step_records_state_before_action_and_format_validity():
    pool = make_pool("agentgym/FrozenLake-v0", "train", size=1, backend="thread")
    trajectories, _ = collect(pool, CountingPolicy(), [{"seed": 5}], group_size=1, sampling=SamplingParams(),
                              episode=EpisodeSettings(history_len=2))  # FrozenLake's own default shows no history
    start_key = pool.reset([0], [{"seed": 5}])[0][1]["state_key"]
    pool.close()
    steps = trajectories[0].steps
    assert steps[0].state_key == start_key and [s.t for s in steps] == list(range(len(steps)))
    broken = steps[2]
    assert not broken.format_valid and not broken.action_valid and broken.action == "hmm"
    assert broken.state_key == steps[3].state_key  # the invalid action did not move the agent
    assert steps[0].entropy == 2.0
    assert "Step 3: you did '(no valid action)'" in steps[3].prompt[1]["content"]


def test_prompt_history_defaults_to_the_environments_own():
    pool = make_pool("agentgym/FrozenLake-v0", "train", size=1, backend="thread")
    trajectories, _ = collect(pool, CountingPolicy(), [{"seed": 5}], group_size=1, sampling=SamplingParams())
    pool.close()
    assert len(trajectories[0].steps) > 1
    assert not any("Step 1: you did" in s.prompt[1]["content"] for s in trajectories[0].steps)
