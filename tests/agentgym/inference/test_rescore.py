"""Trainer rescoring: every step gets the trained model's own log-probs and entropies, the engine's are kept."""

import pytest
import torch

from agentgym.core.policy import SamplingParams
from agentgym.core.types import Step
from agentgym.inference.rescore import rescore_steps
from agentgym.rollout.prompts import HistoryItem, build_messages


@pytest.fixture(scope="module")
def policy(micro_model):
    from policies.hf import HFPolicy

    return HFPolicy.from_pretrained(micro_model, device="cpu")


def _steps(policy, offset):
    history = [HistoryItem("north", "You are at row 2, column 1.")] * 3
    prompts = [build_messages("Reach the goal.", f"You are at row {r}, column 1.", history[:r], ["north"], 3)
               for r in range(4)]  # four prompt lengths
    torch.manual_seed(0)
    gens = policy.generate(prompts, SamplingParams(max_new_tokens=5))
    steps = [Step(group_id=0, traj_id=i, t=0, prompt=p, response=g.text, action="", reward=0.0, state_key="s",
                  prompt_ids=g.prompt_ids, response_ids=g.token_ids, logprobs=[x + offset for x in g.logprobs],
                  entropies=[0.0] * len(g.token_ids)) for i, (p, g) in enumerate(zip(prompts, gens))]
    steps.append(Step(group_id=0, traj_id=9, t=0, prompt=[], response="", action="", reward=0.0, state_key="s"))
    return steps


def test_rescored_steps_hold_the_trainers_numbers_and_keep_the_engines(policy):
    steps = _steps(policy, offset=0.1)  # an engine whose log-probs are 0.1 above the trainer's
    engine_logprobs = [list(s.logprobs) for s in steps]
    metrics = rescore_steps(policy, steps, micro_batch_size=3)
    for step, engine in zip(steps[:4], engine_logprobs):
        with torch.no_grad():
            logp, ent, mask = policy.score([step.prompt_ids], [step.response_ids], with_entropy=True)
        n = len(step.response_ids)
        torch.testing.assert_close(torch.tensor(step.logprobs), logp[0, :n], atol=1e-5, rtol=0)
        torch.testing.assert_close(torch.tensor(step.entropies), ent[0, :n], atol=1e-5, rtol=0)
        assert step.rollout_logprobs == engine
    assert steps[4].rollout_logprobs is None and steps[4].logprobs == []  # nothing to score
    assert metrics["rollout/rescored_steps"] == 4
    assert metrics["rollout/logprob_abs_diff"] == pytest.approx(0.1, abs=1e-4)
    assert metrics["rollout/logprob_abs_diff_max"] == pytest.approx(0.1, abs=1e-4)


def test_an_engine_without_logprobs_is_rescored_without_a_gap(policy):
    steps = _steps(policy, offset=0.0)
    for step in steps:
        step.logprobs = []
    metrics = rescore_steps(policy, steps, micro_batch_size=8)
    assert all(s.rollout_logprobs is None and len(s.logprobs) == len(s.response_ids) for s in steps)
    assert metrics["rollout/logprob_abs_diff"] != metrics["rollout/logprob_abs_diff"]  # NaN: nothing to compare


def test_copies_of_a_step_are_scored_once_and_each_keeps_its_engine_numbers(policy):
    """Two copies of the first step (same prompt and response, other rollouts, engine log-probs 0.2 and 0.3 above
    the first step's): 4 distinct pairs go through the model, and all 6 steps get the trainer's numbers and keep
    their own engine's."""
    import copy

    steps = _steps(policy, offset=0.1)[:4]
    for k, shift in enumerate((0.2, 0.3)):
        twin = copy.deepcopy(steps[0])
        twin.traj_id, twin.logprobs = 10 + k, [x + shift for x in steps[0].logprobs]
        steps.append(twin)
    engine_logprobs = [list(s.logprobs) for s in steps]
    rows = []

    class Counting:
        def score(self, prompt_ids, response_ids, with_entropy=False):
            rows.append(len(prompt_ids))
            return policy.score(prompt_ids, response_ids, with_entropy=with_entropy)

    metrics = rescore_steps(Counting(), steps, micro_batch_size=3)
    assert sum(rows) == 4
    assert metrics["rollout/rescored_steps"] == 6
    for step, engine in zip(steps, engine_logprobs):
        assert step.rollout_logprobs == engine
    for twin in steps[4:]:
        assert twin.logprobs == steps[0].logprobs and twin.logprobs is not steps[0].logprobs
        assert twin.entropies == steps[0].entropies
    # gaps: 0.1 on the four steps' tokens, 0.1 + 0.2 and 0.1 + 0.3 on the twins' (each as long as step 0)
    n0, n = len(steps[0].response_ids), sum(len(s.response_ids) for s in steps[:4])
    expected = (0.1 * n + 0.3 * n0 + 0.4 * n0) / (n + 2 * n0)
    assert metrics["rollout/logprob_abs_diff"] == pytest.approx(expected, abs=1e-4)
