"""ArCHer: TD targets, soft update, advantage, replay buffer and warm-up on hand-worked values; resume end to end."""

import dataclasses
import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

import agentgym
from agentgym import credit
from agentgym.core.types import Step, StepBatch, Trajectory
from agentgym.train.config import make_config
from agentgym.train.features import SetupContext
from agentgym.train.features.archer.feature import ArcherCritic, ArcherSettings
from agentgym.train.features.archer.replay_buffer import ReplayBuffer, Transition, transitions
from agentgym.train.features.archer.utterance_critic import (
    UtteranceCritic,
    q_targets,
    soft_update_,
    td_step,
    td_targets,
    utterance_advantage,
)
from agentgym.train.loop import main
from agentgym.util.metrics import read_metrics
from environments.toytext.frozenlake import FrozenLakeText

ROOT = Path(__file__).resolve().parents[4]


# ---------------------------------------------------------------------------- a critic with known values
class LastTokenEncoder(nn.Module):
    """Hidden state = the token id itself (H = 1), so h(sequence) = its last token id."""

    def __init__(self, vocab: int = 16):
        super().__init__()
        self.embed = nn.Embedding(vocab, 1)
        self.embed.weight.data = torch.arange(vocab, dtype=torch.float32)[:, None]

    def forward(self, input_ids, attention_mask, position_ids):
        return SimpleNamespace(last_hidden_state=self.embed(input_ids))


def _linear(weights, bias):
    layer = nn.Linear(len(weights), 1)
    layer.weight.data = torch.tensor([weights], dtype=torch.float32)
    layer.bias.data = torch.tensor([bias], dtype=torch.float32)
    return layer


def linear_critic() -> UtteranceCritic:
    """Q1 = h_s + h_a, Q2 = 2 h_s - h_a, V1 = h_s, V2 = 3 - h_s."""
    critic = UtteranceCritic(LastTokenEncoder(), hidden_size=1, pad_id=0)
    critic.q_heads = nn.ModuleList([_linear([1.0, 1.0], 0.0), _linear([2.0, -1.0], 0.0)])
    critic.v_heads = nn.ModuleList([_linear([1.0], 0.0), _linear([-1.0], 3.0)])
    return critic


TWO = [Transition([1, 2], [3], 1.0, [4], False),  # h_s 2, h_a 3, r 1, h_s' 4
       Transition([5], [1], 0.0, [], True)]  # h_s 5, h_a 1, done


def test_q_targets_bootstrap_from_the_next_state_unless_done():
    reward, done = torch.tensor([1.0, 0.5, 0.0]), torch.tensor([1.0, 0.0, 0.0])
    next_v = torch.tensor([[2.0, 1.0, -1.0], [3.0, 0.0, 2.0]])
    # row 0 done: r; row 1: 0.5 + 0.9 * 1 = 1.4 and 0.5 + 0.9 * 0; row 2: 0.9 * -1 and 0.9 * 2
    expected = torch.tensor([[1.0, 1.4, -0.9], [1.0, 0.5, 1.8]])
    assert torch.allclose(q_targets(reward, done, next_v, 0.9), expected)


def test_td_targets_read_the_target_critic_at_next_states_and_policy_actions():
    # Q_i -> r + gamma (1 - done) V'_i(s'): 1 + 0.5 * 4 = 3 and 1 + 0.5 * (3 - 4) = 0.5; the done row gets r = 0.
    # V_i -> Q'_i(s, a_pi) with a_pi = [2], [4]: (2 + 2, 2 * 2 - 2) = (4, 2) and (5 + 4, 10 - 4) = (9, 6).
    q_target, v_target = td_targets(linear_critic(), TWO, [[2], [4]], gamma=0.5, micro_batch_size=1)
    assert torch.allclose(q_target, torch.tensor([[3.0, 0.0], [0.5, 0.0]]))
    assert torch.allclose(v_target, torch.tensor([[4.0, 9.0], [2.0, 6.0]]))


def test_soft_update_moves_the_target_a_tau_share_toward_the_online_weights():
    target, online = _linear([1.0], 0.0), _linear([3.0], 2.0)
    soft_update_(target, online, tau=0.25)
    assert target.weight.item() == pytest.approx(1.5) and target.bias.item() == pytest.approx(0.5)  # .25*3 + .75*1
    soft_update_(target, online, tau=0.25)
    assert target.weight.item() == pytest.approx(1.875)  # .25 * 3 + .75 * 1.5
    assert online.weight.item() == 3.0


def test_td_step_loss_is_the_mse_to_the_td_targets_and_the_target_then_moves_by_tau():
    critic = linear_critic()
    target = critic.target_copy()
    with torch.no_grad():
        target.v_heads[0].bias.fill_(1.0)  # the target differs from the online critic
    before = [p.detach().clone() for p in target.parameters()]
    optimizer = torch.optim.SGD(critic.parameters(), lr=1e-3)
    metrics = td_step(critic, target, optimizer, TWO, [[2], [4]], gamma=0.5, tau=0.1, micro_batch_size=1,
                      max_grad_norm=100.0)
    # online Q1 = (2 + 3, 5 + 1) = (5, 6), Q2 = (4 - 3, 10 - 1) = (1, 9); with V'_1(h) = h + 1 the targets are
    # Q1 -> (1 + 0.5 * 5, 0) = (3.5, 0) and Q2 -> (1 + 0.5 * (3 - 4), 0) = (0.5, 0) (the second row is done)
    q_errors = [(5 - 3.5) ** 2, (6 - 0.0) ** 2, (1 - 0.5) ** 2, (9 - 0.0) ** 2]
    assert metrics["loss/archer_q"] == pytest.approx(np.mean(q_errors))
    for old, new, online in zip(before, target.parameters(), critic.parameters()):
        assert torch.allclose(new, 0.1 * online + 0.9 * old)
    assert not any(p.requires_grad for p in target.parameters())


def test_advantage_is_min_q_minus_min_v():
    q = torch.tensor([[1.0, 4.0], [2.0, 3.0]])
    v = torch.tensor([[0.5, 1.0], [0.0, 2.0]])
    assert utterance_advantage(q, v).tolist() == [1.0 - 0.0, 3.0 - 1.0]


# ---------------------------------------------------------------------------- replay buffer
def _trajectory(traj_id, prompts, rewards, terminated=True):
    steps = [Step(group_id=0, traj_id=traj_id, t=t, prompt=[], response="", action="", reward=r, state_key=str(t),
                  prompt_ids=p, response_ids=[10 + t]) for t, (p, r) in enumerate(zip(prompts, rewards))]
    steps[-1].terminated, steps[-1].truncated = terminated, not terminated
    return Trajectory(group_id=0, traj_id=traj_id, task_id="t", steps=steps)


def test_transitions_link_each_step_to_the_next_prompt_and_end_done():
    out = transitions([_trajectory(0, [[1], [2], [3]], [0.0, 0.0, 1.0])])
    assert [(t.prompt_ids, t.response_ids, t.reward, t.next_prompt_ids, t.done) for t in out] == [
        ([1], [10], 0.0, [2], False), ([2], [11], 0.0, [3], False), ([3], [12], 1.0, [], True)]
    cut = _trajectory(1, [[4], [5]], [0.0, 0.0], terminated=False)
    assert [t.done for t in transitions([cut])] == [False, True]  # a truncated end counts as done (ArCHer)
    assert [t.prompt_ids for t in transitions([cut], truncated_as_done=False)] == [[4]]  # or stays out


def test_buffer_keeps_the_newest_capacity_transitions():
    buffer = ReplayBuffer(capacity=3)
    buffer.add([Transition([i], [i], float(i)) for i in range(2)])
    assert len(buffer) == 2
    buffer.add([Transition([i], [i], float(i)) for i in range(2, 5)])
    assert len(buffer) == 3 and sorted(t.reward for t in buffer.items) == [2.0, 3.0, 4.0]
    buffer.add([Transition([5], [5], 5.0)])  # overwrites the oldest left (2)
    assert sorted(t.reward for t in buffer.items) == [3.0, 4.0, 5.0]
    assert {t.reward for t in buffer.sample(50)} <= {3.0, 4.0, 5.0}
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(4).sample(1)


def test_buffer_state_round_trip_continues_the_same_samples():
    buffer = ReplayBuffer(capacity=4, seed=3)
    buffer.add([Transition([i], [i, i], float(i), [i + 1], i % 2 == 0) for i in range(6)])
    buffer.sample(5)  # the sampler has moved on
    saved = io.BytesIO()
    torch.save(buffer.state_dict(), saved)  # as the checkpoint stores it
    saved.seek(0)
    restored = ReplayBuffer(capacity=1, seed=99)
    restored.load_state_dict(torch.load(saved, weights_only=False))
    assert restored.items == buffer.items and restored.capacity == 4 and restored.next_slot == buffer.next_slot
    assert restored.sample(20) == buffer.sample(20)
    restored.add([Transition([9], [9], 9.0)])
    buffer.add([Transition([9], [9], 9.0)])
    assert restored.items == buffer.items


# ---------------------------------------------------------------------------- the feature and the estimator
def _feature(**settings):
    return ArcherCritic(linear_critic(), ArcherSettings(v_target_action="buffer", **settings), policy=None,
                        sampling=None, micro_batch_size=2)


def test_annotate_writes_min_q_minus_min_v_after_the_warm_up_and_zeros_during_it():
    trajectories = [_trajectory(0, [[1, 2], [5]], [0.0, 1.0])]  # responses [10], [11]
    batch = StepBatch.from_trajectories(trajectories)
    # step 0: h_s 2, h_a 10: Q (12, -6), V (2, 1) -> -6 - 1 = -7; step 1: h_s 5, h_a 11: Q (16, -1), V (5, -2) -> 1
    feature = _feature(critic_steps=0, warmup_iterations=1)
    out, metrics = feature.annotate(trajectories, batch)
    assert out.extras["archer_advantage"].tolist() == [0.0, 0.0] and metrics["archer/warmup"] == 1.0
    assert metrics["archer/adv_mean"] == pytest.approx(-3.0) and metrics["archer/buffer_size"] == 2.0
    feature.end_iteration(1)
    out, metrics = feature.annotate(trajectories, batch)
    assert out.extras["archer_advantage"].tolist() == [-7.0, 1.0] and metrics["archer/warmup"] == 0.0
    assert credit.get("archer")(out).tolist() == [-7.0, 1.0]
    assert metrics["archer/q_mean"] == pytest.approx((-6 - 1) / 2) and metrics["archer/buffer_size"] == 4.0


def test_critic_steps_train_on_the_buffer_and_report_their_losses():
    trajectories = [_trajectory(0, [[1, 2], [5]], [0.0, 1.0])]
    feature = _feature(critic_steps=3, critic_batch_size=4, warmup_iterations=0, critic_lr=1e-3)
    _, metrics = feature.annotate(trajectories, StepBatch.from_trajectories(trajectories))
    assert metrics["loss/archer_q"] > 0 and metrics["loss/archer_v"] > 0 and "time/archer_critic_s" in metrics
    assert not torch.equal(feature.critic.q_heads[0].weight, linear_critic().q_heads[0].weight)


def test_estimator_needs_the_feature_column():
    batch = StepBatch.from_records([{"group_id": 0, "traj_id": 0, "t": 0, "reward": 1.0, "state_key": "s"}])
    with pytest.raises(KeyError, match="ArCHer feature"):
        credit.get("archer")(batch)


def test_mean_pooling_averages_the_real_tokens_and_last_reads_the_final_one():
    last = UtteranceCritic(LastTokenEncoder(), hidden_size=1, pad_id=0)
    mean = UtteranceCritic(LastTokenEncoder(), hidden_size=1, pad_id=0, pooling="mean")
    rows = [[1, 2, 6], [4]]  # [4] is left-padded to [0, 0, 4]: the pads must not count
    assert last.encode(rows)[:, 0].tolist() == [6.0, 4.0]
    assert mean.encode(rows)[:, 0].tolist() == pytest.approx([3.0, 4.0])
    with pytest.raises(ValueError, match="pooling"):
        UtteranceCritic(LastTokenEncoder(), hidden_size=1, pad_id=0, pooling="max")


def test_joint_action_encoding_reads_the_action_after_its_state():
    """Q = h_a: separately the action [3] alone (mean 3); jointly the sequence [1, 2, 3] (mean 2)."""
    critics = {kind: UtteranceCritic(LastTokenEncoder(), hidden_size=1, pad_id=0, pooling="mean", action_encoding=kind)
               for kind in ("separate", "joint")}
    for critic in critics.values():
        critic.q_heads = nn.ModuleList([_linear([0.0, 1.0], 0.0), _linear([0.0, 1.0], 0.0)])
    assert critics["separate"]([[1, 2]], [[3]])[0][:, 0].tolist() == [3.0, 3.0]
    assert critics["joint"]([[1, 2]], [[3]])[0][:, 0].tolist() == pytest.approx([2.0, 2.0])
    with pytest.raises(ValueError, match="action_encoding"):
        UtteranceCritic(LastTokenEncoder(), hidden_size=1, pad_id=0, action_encoding="both")


def test_q_return_correlation_reads_the_discounted_returns_of_the_batch():
    from agentgym.train.features.archer.feature import _correlation, _returns

    batch = StepBatch.from_records([dict(group_id=0, traj_id=0, t=t, reward=r, state_key="s")
                                    for t, r in enumerate([0.0, 0.0, 1.0])])
    assert _returns(batch, 0.5).tolist() == [0.25, 0.5, 1.0]  # 0 + 0.5 (0 + 0.5 * 1)
    assert _correlation(np.array([1.0, 2.0, 4.0]), np.array([0.25, 0.5, 1.0])) == pytest.approx(1.0)
    assert _correlation(np.array([1.0, 1.0, 1.0]), np.array([0.25, 0.5, 1.0])) == 0.0  # a critic that knows nothing


def test_state_advantage_correlation_compares_with_returns_minus_the_states_mean():
    from agentgym.credit.anchors import step_groups
    from agentgym.credit.groups import TrajectoryLayout
    from agentgym.train.features.archer.feature import _returns, _state_advantage_correlation

    # group 0: two steps from state "a" with returns 1 and 0 (MC advantages +0.5, -0.5), one lone step "b"
    batch = StepBatch.from_records([dict(group_id=0, traj_id=0, t=0, reward=1.0, state_key="a"),
                                    dict(group_id=0, traj_id=1, t=0, reward=0.0, state_key="a"),
                                    dict(group_id=0, traj_id=2, t=0, reward=5.0, state_key="b")])
    returns, groups = _returns(batch, 1.0), step_groups(batch, TrajectoryLayout.of(batch))
    assert _state_advantage_correlation(np.array([0.2, -0.1, 9.0]), returns, groups) == pytest.approx(1.0)
    assert _state_advantage_correlation(np.array([-0.2, 0.1, 9.0]), returns, groups) == pytest.approx(-1.0)


def _check(**settings):
    config = make_config(**settings)
    ArcherCritic.check_config(config, config.features["archer"])


def test_settings_are_archer_keys_and_only_credit_archer_builds_it():
    with pytest.raises(ValueError, match="did you mean 'archer_tau'"):
        _check(credit="archer", archer_tua=0.1)
    with pytest.raises(ValueError, match="archer_v_target_action"):
        _check(credit="archer", archer_v_target_action="greedy")
    with pytest.raises(ValueError, match="archer_tau"):
        _check(credit="archer", archer_tau=0.0)
    with pytest.raises(ValueError, match="archer_tau"):  # the old spelling still reaches the same check
        _check(credit="archer", archer_params={"tau": 0.0})
    assert make_config(archer_critic_lr=1e-3).features["archer"].critic_lr == 1e-3
    context = SetupContext(policy=None, model_path="unused", run_dir=Path("."), load_policy=lambda spec: None)
    grpo = make_config(credit="grpo")
    assert ArcherCritic.from_config(grpo, grpo.features["archer"], context) is None
    assert not ArcherCritic.data_parallel  # the trainer refuses it at world size > 1
    assert {f.name for f in dataclasses.fields(ArcherSettings)} >= {"gamma", "tau", "capacity", "warmup_iterations"}


# ---------------------------------------------------------------------------- end to end: resume is exact
class PaidLake(FrozenLakeText):
    """FrozenLake that pays (len(action) mod 3) / 2 per step, so an untrained micro model sees varied rewards."""

    def apply(self, action):
        outcome = super().apply(action)
        return dataclasses.replace(outcome, reward=outcome.reward + (len(action) % 3) / 2)


def _flags(model, run_dir, **extra):
    """The FrozenLake preset at smoke size on the paying lake, warm-up 1 so iterations 2 and 3 use advantages."""
    presets = ["--config", str(ROOT / "configs" / "frozenlake_archer.yaml"),
               "--config", str(ROOT / "configs" / "smoke.yaml")]
    flags = {"model": model, "run-dir": str(run_dir), "env": "archertest/PaidLake-v0", "env-backend": "thread",
             "seed": "3", "max-new-tokens": "8", "max-steps": "4",
             "archer-params": "{warmup_iterations: 1, critic_steps: 2, critic_batch_size: 8}", **extra}
    return presets + [x for key, value in flags.items() for x in (f"--{key}", str(value))]


@pytest.fixture
def paid_lake():
    """The paying lake, registered for one test only (a leftover id would join every registry listing)."""
    import gymnasium

    agentgym.register("archertest/PaidLake-v0", entry_point=PaidLake)
    yield
    del gymnasium.registry["archertest/PaidLake-v0"]


def test_resume_restores_replay_buffer_and_target_networks_exactly(micro_model, tmp_path, paid_lake):
    main(_flags(micro_model, tmp_path / "straight", iterations="3"))
    main(_flags(micro_model, tmp_path / "split", iterations="2"))
    main(_flags(micro_model, tmp_path / "split", iterations="3", resume="true"))
    a, b = read_metrics(tmp_path / "straight"), read_metrics(tmp_path / "split")
    assert [r["iteration"] for r in b] == [0, 1, 2, 3]
    assert a[1]["archer/warmup"] == 1.0 and a[3]["archer/warmup"] == 0.0
    assert a[3]["loss/archer_q"] > 0 and a[3]["archer/adv_std"] > 0 and a[3]["credit/adv_abs_mean"] > 0
    comparable = [{k: v for k, v in row.items() if not k.startswith("time/")} for row in (a[3], b[3])]
    assert comparable[0] == pytest.approx(comparable[1], rel=1e-5, abs=1e-6)
