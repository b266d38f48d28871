"""Scripted policies follow the Policy protocol and drive real FrozenLake episodes."""

import json

import pytest

import agentgym
from agentgym.core.policy import Generation, Policy, SamplingParams
from agentgym.rollout.prompts import HistoryItem, build_messages, parse_action
from policies import ExpertPolicy, RandomPolicy, ReplayPolicy, from_spec
from policies.scripted import step_index

ENV = "agentgym/FrozenLake-v0"


def play(policy, task_index=0, split="valid_seen"):
    """One episode driven by ``policy`` through the same prompts the rollout uses."""
    env = agentgym.make(ENV, split=split)
    task_id = env.unwrapped.task_ids()[task_index]
    obs, info = env.reset(seed=0, options={"task_id": task_id})
    history, actions = [], []
    while True:
        messages = build_messages(info["task"], obs, history, info["admissible_actions"])
        gen = policy.generate([messages], SamplingParams(), infos=[info])[0]
        assert isinstance(gen, Generation) and gen.token_ids == [] and gen.logprobs == []
        action = parse_action(gen.text)
        actions.append(action)
        obs, _, terminated, truncated, info = env.step(action)
        history.append(HistoryItem(action, obs))
        if terminated or truncated:
            return info["success"], actions, task_id


@pytest.mark.parametrize("spec", ["expert", "expert:0.3", "random", "random:3"])
def test_protocol_and_spec(spec):
    policy = from_spec(spec)
    assert isinstance(policy, Policy)


def test_expert_solves_held_out_tasks():
    for task_index in range(5):
        success, actions, _ = play(ExpertPolicy(), task_index)
        assert success and all(a in {"north", "south", "east", "west"} for a in actions)


def test_expert_text_and_missing_infos():
    gen = ExpertPolicy().generate([[]], infos=[{"expert_action": "go east"}])[0]
    assert gen.text == "<action>go east</action>"
    assert ExpertPolicy().generate([[]], infos=[{"expert_action": None}])[0].text == "<action></action>"
    with pytest.raises(ValueError, match="infos"):
        ExpertPolicy().generate([[]])


def test_noisy_expert_mixes_expert_and_random_steps_at_rate_epsilon():
    from policies.scripted import NoisyExpertPolicy

    infos = [{"expert_action": "north", "admissible_actions": ["east", "west"]}] * 2000
    texts = [g.text for g in NoisyExpertPolicy(0.25, seed=0).generate([[]] * 2000, infos=infos)]
    expert_share = texts.count("<action>north</action>") / len(texts)
    assert 0.72 < expert_share < 0.78  # 1 - epsilon, within sampling noise (std ~0.01)
    assert texts == [g.text for g in NoisyExpertPolicy(0.25, seed=0).generate([[]] * 2000, infos=infos)]
    assert {g.text for g in NoisyExpertPolicy(1.0).generate([[]] * 2000, infos=infos)} == {
        "<action>east</action>", "<action>west</action>"}
    with pytest.raises(ValueError):
        NoisyExpertPolicy(1.5)


def test_random_picks_admissible_actions_reproducibly():
    infos = [{"admissible_actions": ["north", "east"]}] * 200
    first = [g.text for g in RandomPolicy(seed=1).generate([[]] * 200, infos=infos)]
    again = [g.text for g in RandomPolicy(seed=1).generate([[]] * 200, infos=infos)]
    assert first == again
    assert set(first) == {"<action>north</action>", "<action>east</action>"}
    assert RandomPolicy(fallback="look").generate([[]], infos=[{"admissible_actions": None}])[0].text == \
        "<action>look</action>"


def test_step_index_reads_the_prompt_history():
    history = [HistoryItem("north", "a"), HistoryItem("east", "b"), HistoryItem("east", "c")]
    assert step_index(build_messages("t", "now", history[:0])) == 0
    assert step_index(build_messages("t", "now", history[:1])) == 1
    assert step_index(build_messages("t", "now", history, history_len=2)) == 3


def test_replay_reproduces_an_expert_episode(tmp_path):
    success, actions, task_id = play(ExpertPolicy(), task_index=2)
    assert success
    path = tmp_path / "actions.json"
    path.write_text(json.dumps({task_id: actions}))
    replayed = from_spec(f"replay:{path}")
    assert isinstance(replayed, ReplayPolicy)
    assert play(replayed, task_index=2) == (True, actions, task_id)
    lines = tmp_path / "actions.txt"
    lines.write_text("\n".join(actions) + "\n")
    assert play(from_spec(f"replay:{lines}"), task_index=2)[:2] == (True, actions)


def test_replay_follows_the_rollouts_step_index_when_prompts_show_no_history(tmp_path):
    """FrozenLake prompts carry no history lines; the rollout's ``info["step"]`` keeps replay in step."""
    from agentgym.rollout.collect import collect
    from agentgym.rollout.episode import EpisodeSettings
    from agentgym.rollout.pool import make_pool

    success, actions, task_id = play(ExpertPolicy(), task_index=2)
    assert success and len(actions) > 1
    pool = make_pool(ENV, "valid_seen", 1)
    try:
        [traj], _ = collect(pool, ReplayPolicy({task_id: actions}), [{"seed": 0, "options": {"task_id": task_id}}],
                            group_size=1, sampling=SamplingParams(), episode=EpisodeSettings(history_len=0))
    finally:
        pool.close()
    assert [s.action for s in traj.steps] == actions and traj.success
    assert not any("Step 1:" in s.prompt[-1]["content"] for s in traj.steps)


def test_replay_after_the_end_and_unknown_task():
    policy = ReplayPolicy(["north"], after_end="wait")
    history = [HistoryItem("north", "x")]
    assert policy.generate([build_messages("t", "o", history)])[0].text == "<action>wait</action>"
    with pytest.raises(KeyError, match="no actions for task"):
        ReplayPolicy({"a": ["north"]}).generate([build_messages("t", "o")], infos=[{"task_id": "b"}])


def test_bad_specs():
    with pytest.raises(ValueError, match="replay needs a file"):
        from_spec("replay:")
    with pytest.raises(ValueError, match="openai:MODEL@BASE_URL"):
        from_spec("openai:no-url")
