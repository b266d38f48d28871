"""IGPO's belief on the full history: the rebuilt prompt shows every earlier step, reproduces the recorded one
at the rollout's window, and the feature scores it (issue 43)."""

import pytest
import torch

from agentgym.core.policy import SamplingParams
from agentgym.core.types import Step, Trajectory
from agentgym.rollout.collect import collect
from agentgym.rollout.episode import EpisodeSettings
from agentgym.rollout.pool import make_pool
from agentgym.rollout.prompts import build_messages
from agentgym.train.features.igpo.feature import SUBMIT_TEMPLATE, BeliefSettings, IGPOBelief
from agentgym.train.features.igpo.history import HistoryItem, full_history_prompt


def _trajectory(window: int) -> Trajectory:
    """Three steps whose prompts show the last ``window`` steps; the second response was unparsable."""
    observations = ["at the door", "in the hall", "in the kitchen"]
    actions, valid = ["open door", "", "go east"], [True, False, True]
    traj = Trajectory(group_id=0, traj_id=0, task_id="t", task="find the key")
    history = []
    for t, obs in enumerate(observations):
        prompt = build_messages("find the key", obs, history, ["look", "go east"], window, "SYS")
        traj.steps.append(Step(group_id=0, traj_id=0, t=t, prompt=prompt, response="", action=actions[t], reward=0.0,
                               state_key=obs, observation=obs, format_valid=valid[t]))
        history.append(HistoryItem(actions[t] if valid[t] else "(no valid action)",
                                   observations[t + 1] if t + 1 < len(observations) else "end"))
    return traj


def test_the_full_history_prompt_adds_the_steps_the_window_dropped():
    traj = _trajectory(window=1)
    assert full_history_prompt(traj, 0) == (None, True)  # nothing before the first step
    assert full_history_prompt(traj, 1) == (None, True)  # its one earlier step is shown already
    messages, ok = full_history_prompt(traj, 2)
    assert ok
    assert messages == build_messages("find the key", "in the kitchen",
                                      [HistoryItem("open door", "in the hall"),
                                       HistoryItem("(no valid action)", "in the kitchen")],
                                      ["look", "go east"], 2, "SYS")
    assert "Step 1: you did 'open door'. You saw: in the hall" in messages[1]["content"]
    assert "Step 1:" not in traj.steps[2].prompt[1]["content"]
    assert full_history_prompt(_trajectory(window=5), 2) == (None, True)


def test_a_prompt_that_cannot_be_reproduced_is_kept_and_reported():
    traj = _trajectory(window=1)
    traj.steps[2].prompt = [traj.steps[2].prompt[0], {"role": "user", "content": "shortened by the context guard"}]
    assert full_history_prompt(traj, 2) == (None, False)
    with pytest.raises(ValueError, match="igpo_history"):
        BeliefSettings(history="window")


@pytest.fixture(scope="module")
def policy(micro_model):
    from policies.hf import HFPolicy

    return HFPolicy.from_pretrained(micro_model, device="cpu")


def _belief(policy, prompt_ids, answer):
    prefix = SUBMIT_TEMPLATE.split("{answer}")[0]
    head = policy.encode_response(prefix, add_eos=False)
    full = policy.encode_response(prefix + answer, add_eos=False)
    with torch.no_grad():
        logprobs, _, mask = policy.score([[*prompt_ids, *head]], [full[len(head):]])
    return float(torch.exp(logprobs.sum() / mask.sum()))


def test_beliefs_are_scored_on_the_full_history_of_real_searchqa_rollouts(policy):
    pool = make_pool("agentgym/SearchQA-v0", "train", 2, max_steps=4, backend="thread")
    try:
        torch.manual_seed(0)
        trajs, _ = collect(pool, policy, [{"seed": 3}], 2, SamplingParams(max_new_tokens=8),
                           EpisodeSettings(history_len=1), info_keys=("answer",))
    finally:
        pool.close()
    later = [(t, i) for t in trajs for i in range(2, len(t.steps))]
    assert later, "the micro model's rollouts should reach a third step"
    full = IGPOBelief(policy, BeliefSettings(), micro_batch_size=4).beliefs(trajs)
    window = IGPOBelief(policy, BeliefSettings(history="prompt"), micro_batch_size=4).beliefs(trajs)
    assert (full.prompts_extended, full.prompts_not_rebuilt, window.prompts_extended) == (len(later), 0, 0)
    for traj, got_full, got_window in zip(trajs, full.per_trajectory, window.per_trajectory):
        for i, step in enumerate(traj.steps):
            messages, ok = full_history_prompt(traj, i)
            assert ok
            ids = policy.encode_prompts([messages])[0] if messages is not None else step.prompt_ids
            assert got_full[i] == pytest.approx(_belief(policy, ids, step.info["answer"]), rel=1e-4)
            assert got_window[i] == pytest.approx(_belief(policy, step.prompt_ids, step.info["answer"]), rel=1e-4)
    t, i = later[0]
    assert policy.encode_prompts([full_history_prompt(t, i)[0]])[0] != t.steps[i].prompt_ids
