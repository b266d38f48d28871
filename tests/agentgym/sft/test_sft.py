"""SFT: the rollout's prompts, expert targets, response-only loss, CLI; the slow test checks skill."""

import math

import pytest
import torch

import agentgym
from agentgym.rollout.episode import EpisodeSettings
from agentgym.rollout.prompts import HistoryItem, build_messages, format_action
from agentgym.sft.data import collect_examples
from agentgym.sft.trainer import SFTConfig, SFTCurve, greedy_success, main, train
from policies.hf import HFPolicy
from policies.tiny import TinyConfig, build_tiny_model

ENV = "agentgym/FrozenLake-v0"
SMALL = TinyConfig(hidden_size=64, num_layers=2, num_heads=1, num_kv_heads=1, intermediate_size=128,
                   corpus_episodes=16)


@pytest.mark.parametrize("history_len", [None, 2])
def test_examples_use_the_rollout_prompts_and_expert_targets(history_len):
    examples = collect_examples(EpisodeSettings(env=ENV, history_len=history_len), 2, seed=5)
    shown = agentgym.prompt_history_len(ENV, history_len)  # None: FrozenLake's own 0
    env = agentgym.make(ENV, split="train")
    obs, info = env.reset(seed=5)
    history, expected = [], []
    done = False
    while not done:  # the expert walk, prompted exactly as agentgym.rollout does
        expected.append((build_messages(info["task"], obs, history, info["admissible_actions"], shown),
                         format_action(info["expert_action"])))
        action = info["expert_action"]
        obs, _, terminated, truncated, info = env.step(action)
        history.append(HistoryItem(action, obs))
        done = terminated or truncated
    assert [(e.messages, e.response) for e in examples[:len(expected)]] == expected
    assert len(examples) > len(expected)  # the second episode follows
    assert ("Step 1: you did" in examples[2].messages[1]["content"]) == (shown > 0)


def test_exploration_keeps_expert_labels_on_visited_states():
    plain = collect_examples(EpisodeSettings(env=ENV), 20, seed=0)
    explored = collect_examples(EpisodeSettings(env=ENV), 20, seed=0, explore=1.0)
    assert all(e.response.startswith("<action>") for e in explored)
    assert {e.messages[1]["content"] for e in explored} != {e.messages[1]["content"] for e in plain}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), cfg=SMALL)


def test_loss_only_on_response_tokens_and_decreases(model_dir):
    policy = HFPolicy.from_pretrained(model_dir, device="cpu")
    examples = collect_examples(EpisodeSettings(env=ENV), 4, seed=1)
    prompt_ids = policy.encode_prompts([e.messages for e in examples])
    response_ids = [policy.encode_response(e.response) for e in examples]
    assert all(len(r) == 4 and r[-1] == policy.eos_ids[0] for r in response_ids)  # <action> dir </action> EOS
    with torch.no_grad():
        logp, _, mask = policy.score(prompt_ids, response_ids)
    assert mask.sum() == sum(len(r) for r in response_ids)
    full_batch = SFTConfig(steps=12, examples_per_step=len(examples), lr=1e-2, warmup=2, verbose=False)
    curve = train(policy, examples, full_batch)
    losses = curve.losses
    assert len(losses) == 12
    assert losses[0] == pytest.approx(float(-(logp * mask).sum() / mask.sum()), abs=1e-4)
    assert sum(losses[-3:]) / 3 < 0.5 * losses[0]
    # unsure at step 0: the share of examples whose whole response has P < 0.5, from the same scores
    assert curve.unsure[0] == pytest.approx(float(((logp * mask).sum(-1) < math.log(0.5)).float().mean()))
    assert len(curve.unsure) == 12 and all(0.0 <= u <= 1.0 for u in curve.unsure)
    assert curve.tail() == 1 and curve.final_unsure() == curve.unsure[-1]
    assert SFTCurve([0.0] * 25, [1.0] * 23 + [0.0, 0.5]).final_unsure() == 0.25  # the last 2 of 25 steps


class FixedScores:
    """A stand-in for a policy's ``score``: fixed per-token log-probs per example, and a parameter so that
    ``backward`` has a leaf to reach. Only the bookkeeping of ``_accumulate`` is under test here."""

    def __init__(self, token_logps: dict[int, list[float]]):
        self.token_logps = token_logps  # keyed by the example's prompt id
        self.weight = torch.ones((), requires_grad=True)

    def score(self, prompts, responses, with_entropy=False):
        width = max(len(r) for r in responses)
        logp = torch.zeros(len(prompts), width)
        mask = torch.zeros(len(prompts), width)
        for i, (prompt, response) in enumerate(zip(prompts, responses)):
            logp[i, :len(response)] = torch.tensor(self.token_logps[prompt[0]])
            mask[i, :len(response)] = 1
        return logp * self.weight, None, mask


def test_accumulate_returns_each_examples_response_logprob_in_the_given_order():
    """Worked by hand: three examples, passes of two after sorting by length (the order differs from the given
    one). Summed log-probs: ln 0.9 + ln 0.9, ln 0.4, ln 0.5 + ln 0.8 + ln 1; the token mean is their sum over
    6 tokens."""
    from agentgym.sft.trainer import _accumulate

    token_logps = {7: [math.log(0.9), math.log(0.9)], 8: [math.log(0.4)], 9: [math.log(0.5), math.log(0.8), 0.0]}
    prompts = [[7, 1, 1, 1], [8], [9, 1]]  # lengths with responses: 6, 2, 5 -> passes [8, 9], [7]
    responses = [[1, 1], [1], [1, 1, 1]]
    loss, response_logps = _accumulate(FixedScores(token_logps), prompts, responses, examples_per_pass=2)
    assert response_logps == pytest.approx([math.log(0.81), math.log(0.4), math.log(0.4)])
    assert loss == pytest.approx(-math.log(0.81 * 0.4 * 0.4) / 6)


def test_micro_batches_accumulate_the_whole_batchs_gradient(model_dir):
    """One pass of four examples and four passes of one (different lengths, so padding differs): the same
    token-mean loss and gradient."""
    from agentgym.sft.trainer import _accumulate

    examples = collect_examples(EpisodeSettings(env=ENV, history_len=2), 3, seed=2)[:4]
    results = []
    for micro in (4, 1):
        policy = HFPolicy.from_pretrained(model_dir, device="cpu")
        prompts = policy.encode_prompts([e.messages for e in examples])
        assert len({len(p) for p in prompts}) > 1  # the prompts differ in length
        loss, _ = _accumulate(policy, prompts, [policy.encode_response(e.response) for e in examples], micro)
        results.append((loss, torch.cat([p.grad.flatten() for p in policy.model.parameters() if p.grad is not None])))
    assert results[1][0] == pytest.approx(results[0][0], rel=1e-5)
    torch.testing.assert_close(results[1][1], results[0][1], atol=1e-6, rtol=1e-4)


def test_cli_trains_and_saves(model_dir, tmp_path, capsys):
    stats = main(["--env", ENV, "--model", str(model_dir), "--out", str(tmp_path / "sft"), "--episodes", "3",
                  "--steps", "2", "--batch-size", "4"])
    assert stats["steps"] == 2 and stats["examples"] > 3
    out = capsys.readouterr()
    assert (tmp_path / "sft" / "config.json").exists() and "saved" in out.out
    phases = [line for line in out.out.splitlines() if line.startswith("[sft] ")]  # labelled, with the loss
    assert phases[0] == f"[sft] warm start of {model_dir} on {stats['examples']} expert steps of {ENV} (train split)"
    assert phases[1].startswith(f"[sft] 2 steps on {stats['examples']} examples, loss {stats['first_loss']:.4f} -> "
                                f"{stats['final_loss']:.4f}, unsure {stats['first_unsure']:.2f} -> "
                                f"{stats['final_unsure']:.2f} (share of a step's examples with P(response) < 0.5; "
                                "the last 1 steps)")
    assert "sft: 100%" in out.err  # its own progress bar
    reloaded = HFPolicy.from_pretrained(tmp_path / "sft", device="cpu")
    assert 0.0 <= greedy_success(reloaded, "valid_seen", 2, EpisodeSettings(env=ENV, max_new_tokens=4)) <= 1.0


def test_environment_without_expert_is_refused(model_dir, tmp_path):
    from agentgym.sft.trainer import run_sft

    class NoExpert(agentgym.TextEnv):
        has_expert = False

        def task_ids(self):
            return ["only"]

        def load_task(self, task_id):
            pass

        def first_observation(self):
            return "nothing here"

        def apply(self, action):
            return agentgym.Outcome("still nothing", terminated=True)

        def state_info(self):
            return {"task": "t", "state_key": "s", "admissible_actions": ["wait"]}

    agentgym.register("sfttest/NoExpert-v0", entry_point=NoExpert)
    with pytest.raises(ValueError, match="the .expert. teacher gave no actions on sfttest/NoExpert-v0"):
        run_sft(SFTConfig(env="sfttest/NoExpert-v0", model=str(model_dir), out=str(tmp_path / "x"), teacher_episodes=2,
                          steps=1, verbose=False))


@pytest.mark.slow
def test_default_model_solves_held_out_tasks_and_untrained_does_not(tmp_path, monkeypatch):
    """The cached default model (built here from scratch, ~1 min on 2 idle cores) vs. its untrained self."""
    from policies.tiny import TinyConfig as Default
    from policies.tiny import default_model

    monkeypatch.setenv("AGENTGYM_CACHE", str(tmp_path))
    trained = HFPolicy.from_pretrained(default_model(ENV), device="cpu")
    untrained = HFPolicy.from_pretrained(build_tiny_model(tmp_path / "untrained", ENV, Default()), device="cpu")
    assert greedy_success(trained, "valid_seen", 100, EpisodeSettings(env=ENV)) >= 0.05
    assert greedy_success(untrained, "valid_seen", 100, EpisodeSettings(env=ENV)) <= 0.02


def test_a_heuristic_teacher_labels_every_step_with_its_own_rule():
    from policies.heuristics import frozenlake
    from policies.heuristics.view import PromptView

    examples = collect_examples(EpisodeSettings(env=ENV), 6, seed=3, explore=0.5, teacher="heuristic")
    assert len(examples) > 6  # several steps per episode
    for example in examples:  # the label is the rule applied to the very prompt the policy is shown
        assert example.response == f"<action>{frozenlake.act(PromptView.of(example.messages))}</action>"


def test_lora_sft_saves_its_adapters_merged_into_a_plain_folder(model_dir, tmp_path):
    """--lora-rank: the saved folder is a plain model (adapters folded in) that
    reproduces the fine-tuned policy's scores, so RL's adapters and KL reference sit on the fine-tuned weights."""
    from agentgym.sft.trainer import run_sft

    cfg = SFTConfig(env=ENV, model=str(model_dir), out=str(tmp_path / "sft"), teacher_episodes=3, steps=3,
                    examples_per_step=4, lr=1e-2, warmup=1, lora_rank=4, verbose=False)
    assert cfg.lora() == {"r": 4, "lora_alpha": 8}
    base = HFPolicy.from_pretrained(model_dir, device="cpu")
    run_sft(cfg)
    saved = tmp_path / "sft"
    assert (saved / "config.json").exists() and not (saved / "adapter_config.json").exists()
    merged = HFPolicy.from_pretrained(saved, device="cpu")
    assert not merged.is_lora
    examples = collect_examples(EpisodeSettings(env=ENV), 2, seed=3)
    prompt_ids = merged.encode_prompts([e.messages for e in examples])
    response_ids = [merged.encode_response(e.response) for e in examples]
    with torch.no_grad():
        before, _, mask = base.score(prompt_ids, response_ids)
        after, _, _ = merged.score(prompt_ids, response_ids)
    assert float(((after - before) * mask).sum()) > 0.1  # the fine-tuning is in the saved weights


def test_lora_settings_are_checked():
    with pytest.raises(ValueError, match="lora_rank >= 0"):
        SFTConfig(lora_rank=-1)
    with pytest.raises(ValueError, match="lora_alpha > 0"):
        SFTConfig(lora_rank=8, lora_alpha=0.0)
    assert SFTConfig().lora() is None and SFTConfig(lora_rank=8, lora_alpha=4.0).lora() == {"r": 8, "lora_alpha": 4.0}
