"""IGPO's belief feature: beliefs equal exp(mean log-prob) scored directly, the info_gain column, the refusals,
the gold answer of SearchQA and SQL (never in a prompt), and a smoke run of the preset."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from agentgym.core.policy import SamplingParams
from agentgym.core.types import Step, StepBatch, Trajectory
from agentgym.rollout.collect import collect
from agentgym.rollout.episode import EpisodeSettings
from agentgym.rollout.pool import make_pool
from agentgym.rollout.prompts import format_action
from agentgym.train.config import TrainConfig, make_config
from agentgym.train.features.igpo.feature import SUBMIT_TEMPLATE, BeliefSettings, IGPOBelief
from agentgym.train.loop import main
from agentgym.util.metrics import read_metrics

ROOT = Path(__file__).resolve().parents[4]
SEARCHQA, SQL = "agentgym/SearchQA-v0", "agentgym/SQL-v0"


@pytest.fixture(scope="module")
def policy(micro_model):
    from policies.hf import HFPolicy

    return HFPolicy.from_pretrained(micro_model, device="cpu")


@pytest.fixture(scope="module")
def trajectories(policy):
    """Two SearchQA groups of two rollouts of the micro model, at most 3 steps each."""
    pool = make_pool(SEARCHQA, "train", 4, max_steps=3, backend="thread")
    try:
        torch.manual_seed(0)
        trajs, _ = collect(pool, policy, [{"seed": 1}, {"seed": 2}], 2, SamplingParams(max_new_tokens=8),
                           EpisodeSettings(), info_keys=("answer",))
    finally:
        pool.close()
    assert any(len(t.steps) > 1 for t in trajs)
    return trajs


def _direct_belief(policy, prompt_ids, answer):
    """exp(mean log pi(answer tokens | prompt, template prefix)), one unbatched teacher-forced pass."""
    prefix = SUBMIT_TEMPLATE.split("{answer}")[0]
    head = policy.encode_response(prefix, add_eos=False)
    full = policy.encode_response(prefix + answer, add_eos=False)
    assert full[:len(head)] == head  # the micro tokenizer merges nothing across the boundary
    with torch.no_grad():
        logprobs, _, mask = policy.score([[*prompt_ids, *head]], [full[len(head):]])
    return float(torch.exp(logprobs.sum() / mask.sum()))


def test_default_template_is_the_submit_action_the_expert_emits():
    from environments.tools.protocol import format_call
    from environments.tools.tool_env import SUBMIT

    assert format_action(format_call(SUBMIT, answer="{answer}")) == SUBMIT_TEMPLATE
    settings = BeliefSettings()
    answer = 'the "Red" \\ Lake'
    prefix, suffix = SUBMIT_TEMPLATE.split("{answer}")
    assert prefix + settings.answer_text(answer) + suffix == format_action(format_call(SUBMIT, answer=answer))
    assert BeliefSettings(answer_template="<answer>{answer}</answer>").answer_text(answer) == answer
    assert BeliefSettings(answer_template="<answer>{answer}</answer>", escape="json").answer_text(answer) == \
        'the \\"Red\\" \\\\ Lake'


def test_beliefs_are_the_geometric_mean_answer_probability(policy, trajectories):
    feature = IGPOBelief(policy, BeliefSettings(), micro_batch_size=3)  # several uneven micro-batches
    beliefs = feature.beliefs(trajectories)
    expected = [[_direct_belief(policy, s.prompt_ids, s.info["answer"]) for s in t.steps] for t in trajectories]
    assert beliefs.prompts_cut == 0
    for got, want in zip(beliefs.per_trajectory, expected):
        assert got == pytest.approx(want, rel=1e-4)
        assert all(0.0 < p < 1.0 for p in want)


def test_info_gain_column_is_the_next_belief_minus_this_one_and_zero_at_the_end(policy, trajectories):
    feature = IGPOBelief(policy, BeliefSettings(), micro_batch_size=128)
    batch, metrics = feature.annotate(trajectories, StepBatch.from_trajectories(trajectories))
    beliefs = [[_direct_belief(policy, s.prompt_ids, s.info["answer"]) for s in t.steps] for t in trajectories]
    want, turns = [], []
    for p in beliefs:  # p_{i+1} - p_i, then 0.0 on the final step
        gains = [p[i + 1] - p[i] for i in range(len(p) - 1)]
        want += [*gains, 0.0]
        turns += gains
    assert batch.extras["info_gain"] == pytest.approx(want, rel=1e-4, abs=1e-7)
    last = np.cumsum([len(t.steps) for t in trajectories]) - 1
    assert np.all(batch.extras["info_gain"][last] == 0.0)
    assert metrics["igpo/belief_start_mean"] == pytest.approx(np.mean([p[0] for p in beliefs]), rel=1e-4)
    assert metrics["igpo/belief_mean"] == pytest.approx(np.mean(np.concatenate(beliefs)), rel=1e-4)
    assert metrics["igpo/info_gain_mean"] == pytest.approx(np.mean(turns), rel=1e-3, abs=1e-7)
    assert metrics["igpo/info_gain_abs_mean"] == pytest.approx(np.mean(np.abs(turns)), rel=1e-3, abs=1e-7)
    assert metrics["time/igpo_belief_s"] > 0 and metrics["igpo/belief_prompts_cut"] == 0


def test_a_prompt_longer_than_the_context_is_cut_from_the_left_and_counted(policy):
    limit = policy.context_length
    answer = "Velmora"
    prompt = [(7 * i) % 400 + 5 for i in range(limit + 50)]
    step = Step(group_id=0, traj_id=0, t=0, prompt=[], response="", action="", reward=0.0, state_key="s",
                prompt_ids=prompt, info={"answer": answer})
    feature = IGPOBelief(policy, BeliefSettings(), micro_batch_size=4)
    beliefs = feature.beliefs([Trajectory(0, 0, "t", steps=[step])])
    prefix = SUBMIT_TEMPLATE.split("{answer}")[0]
    head = policy.encode_response(prefix, add_eos=False)
    target = policy.encode_response(prefix + answer, add_eos=False)[len(head):]
    kept = [*prompt, *head][-(limit - len(target)):]  # the end of the context: as many as fit with the answer
    with torch.no_grad():
        logprobs, _, mask = policy.score([kept], [target])
    assert beliefs.prompts_cut == 1
    assert beliefs.per_trajectory[0] == pytest.approx([float(torch.exp(logprobs.sum() / mask.sum()))], rel=1e-4)


def test_a_step_without_the_gold_answer_is_refused(policy):
    step = Step(group_id=0, traj_id=0, t=0, prompt=[], response="", action="", reward=0.0, state_key="s",
                prompt_ids=[5, 6, 7], info={"answer": None})
    with pytest.raises(ValueError, match="SearchQA-v0"):
        IGPOBelief(policy, BeliefSettings(), 4).beliefs([Trajectory(0, 0, "t", steps=[step])])


def test_refuses_an_environment_without_a_gold_answer():
    with pytest.raises(ValueError, match=r"FrozenLake-v0 gives none.*SearchQA-v0 and agentgym/SQL-v0 provide it"):
        IGPOBelief.check_config(TrainConfig(credit="igpo", env="agentgym/FrozenLake-v0"), BeliefSettings())


def test_settings_are_checked_and_the_feature_is_built_only_for_igpo():
    def check(**settings):
        config = make_config(**settings)
        IGPOBelief.check_config(config, config.features["igpo"])

    with pytest.raises(ValueError, match="did you mean 'igpo_answer_template'"):
        check(credit="igpo", env=SEARCHQA, igpo_answer_templat="x")
    with pytest.raises(ValueError, match="exactly once"):
        check(credit="igpo", env=SEARCHQA, igpo_answer_template="x")
    with pytest.raises(ValueError, match="exactly once"):  # the old spelling
        check(credit="igpo", env=SEARCHQA, igpo_params={"answer_template": "x"})
    with pytest.raises(ValueError, match="only with credit=igpo"):
        check(credit="grpo", igpo_escape="none")
    check(credit="igpo", env=SQL)
    grpo = make_config(credit="grpo")
    assert IGPOBelief.from_config(grpo, grpo.features["igpo"], context=None) is None


def _expert_answer(env):
    submit = env.unwrapped.expert_actions()[-1]
    return json.loads(submit.removeprefix("<tool_call>").removesuffix("</tool_call>"))["arguments"]["answer"]


@pytest.mark.parametrize("env_id", [SEARCHQA, SQL])
def test_searchqa_and_sql_give_the_gold_answer_the_expert_submits(env_id):
    import agentgym

    env = agentgym.make(env_id, split="valid_seen")
    try:
        for seed in (0, 1):
            _, info = env.reset(seed=seed)
            assert info["answer"] and info["answer"] == _expert_answer(env)
            _, _, _, _, info = env.step("not a tool call")
            assert info["answer"] == _expert_answer(env)  # on every step, not only on reset
    finally:
        env.close()
    frozen = agentgym.make("agentgym/FrozenLake-v0")
    assert "answer" in frozen.reset(seed=0)[1] and frozen.reset(seed=0)[1]["answer"] is None


@pytest.mark.parametrize("env_id", [SEARCHQA, SQL])
def test_the_gold_answer_never_reaches_a_prompt(env_id, monkeypatch):
    """A sentinel answer reaches every step's info, and no prompt message of an expert-like rollout."""
    from environments.tools.searchqa_env import SearchQAEnv
    from environments.tools.sql_env import SQLEnv
    from policies.scripted import NoisyExpertPolicy

    sentinel = "QX-GOLD-7731"
    monkeypatch.setattr({SEARCHQA: SearchQAEnv, SQL: SQLEnv}[env_id], "gold_answer", lambda self: sentinel)
    pool = make_pool(env_id, "train", 4, max_steps=6, backend="thread")
    try:
        trajs, _ = collect(pool, NoisyExpertPolicy(0.3, seed=0), [{"seed": 3}, {"seed": 4}], 2, SamplingParams(),
                           EpisodeSettings(), info_keys=("answer",))
    finally:
        pool.close()
    steps = [s for t in trajs for s in t.steps]
    assert len(steps) > 4 and all(s.info["answer"] == sentinel for s in steps)
    assert not any(sentinel in m["content"] for s in steps for m in s.prompt)


def test_train_preset_smoke_run_logs_the_igpo_metrics(micro_model, tmp_path):
    flags = {"config": str(ROOT / "configs" / "searchqa_igpo.yaml"), "model": micro_model, "run-dir": str(tmp_path),
             "iterations": "2", "num-groups": "2", "group-size": "2", "max-steps": "3", "max-new-tokens": "8",
             "eval-every": "0", "checkpoint-every": "0", "tensorboard": "false", "progress-bar": "false"}
    main([x for key, value in flags.items() for x in (f"--{key}", value)])
    rows = read_metrics(tmp_path)
    assert [r["iteration"] for r in rows][-2:] == [1, 2]
    for key in ("igpo/belief_start_mean", "igpo/belief_mean", "igpo/info_gain_mean", "igpo/info_gain_abs_mean",
                "igpo/belief_prompts_cut", "time/igpo_belief_s", "credit/igpo_info_gain_share",
                "credit/igpo_zero_adv_frac", "credit/adv_mean", "loss/kl"):
        assert key in rows[-1], key
    assert 0.0 < rows[-1]["igpo/belief_mean"] < 1.0
