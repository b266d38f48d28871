"""Progress attribution: the sum-to-return loss, the shaper, the oracle check, fitting and save/load."""

import numpy as np
import pytest
import torch

import rewards  # noqa: F401 - registers the shapers
from agentgym import StepBatch, credit
from agentgym.core.types import Step, Trajectory
from rewards.progress import ProgressEstimator, ProgressSettings, trajectory_loss
from rewards.progress_oracle import oracle_correlation, oracle_progress, rankdata, spearman


def test_trajectory_loss_regresses_the_sum_of_contributions_on_the_return():
    c = torch.tensor([0.2, 0.3, 0.5, -0.1])
    # trajectory 0: 0.2 + 0.3 = 0.5 against R=1; trajectory 1: 0.5 - 0.1 = 0.4 against R=0
    loss = trajectory_loss(c, torch.tensor([0, 0, 1, 1]), torch.tensor([1.0, 0.0]))
    assert float(loss) == pytest.approx(((0.5 - 1.0) ** 2 + 0.4 ** 2) / 2)
    # spread adds 0.5 x the mean over trajectories of sum_t c_t^2: (0.04 + 0.09 + 0.25 + 0.01) / 2 = 0.195
    loss = trajectory_loss(c, torch.tensor([0, 0, 1, 1]), torch.tensor([1.0, 0.0]), spread=0.5)
    assert float(loss) == pytest.approx(((0.5 - 1.0) ** 2 + 0.4 ** 2) / 2 + 0.5 * 0.195)


def _batch(**extras):
    rows = [
        {"group_id": 0, "traj_id": 0, "t": 0, "reward": 0.0, "state_key": "a"},
        {"group_id": 0, "traj_id": 0, "t": 1, "reward": 0.9, "state_key": "b"},  # env 1.0, then -0.1 penalty
        {"group_id": 0, "traj_id": 1, "t": 0, "reward": 0.0, "state_key": "a"},
    ]
    return StepBatch.from_records(rows).with_extras(**extras)


def test_progress_shaper_replaces_only_the_environment_reward():
    batch = _batch(env_reward=[0.0, 1.0, 0.0], progress=[0.25, 0.5, -0.2], action_valid=[True, True, False],
                   format_valid=[True, False, True])
    shaped = credit.get_shaper("progress")(batch, grounding="step", redistribute=False)
    # the paper's grounding: r = reward - env_reward + 1.0 * c + 0.5 * (action valid and parsed)
    np.testing.assert_allclose(shaped.reward, [0.25 + 0.5, -0.1 + 0.5 + 0.0, -0.2 + 0.0])
    shaped = credit.get_shaper("progress")(batch, alpha=2.0, beta=0.0, redistribute=False)
    np.testing.assert_allclose(shaped.reward, [0.5, -0.1 + 1.0, -0.4])
    shaped = credit.get_shaper("progress")(batch, redistribute=False)
    # grounding "mean": 0.5 * valid / T, trajectory 0 has T = 2 steps (its second unparsed), trajectory 1 one
    np.testing.assert_allclose(shaped.reward, [0.25 + 0.25, -0.1 + 0.5 + 0.0, -0.2 + 0.0])
    shaped = credit.get_shaper("progress")(batch)
    # defaults: trajectory 0 (R = 1) has c = .25, .5: residual 0.25 split over 2 steps -> .375, .625;
    # trajectory 1 (R = 0) has c = -0.2: residual +0.2 -> 0
    np.testing.assert_allclose(shaped.reward, [0.375 + 0.25, -0.1 + 0.625 + 0.0, 0.0 + 0.0])


def _valid_steps(lengths):
    rows = [{"group_id": 0, "traj_id": j, "t": t, "reward": 0.0, "state_key": str(t)}
            for j, n in enumerate(lengths) for t in range(n)]
    n = len(rows)
    return StepBatch.from_records(rows).with_extras(env_reward=np.zeros(n), progress=np.zeros(n),
                                                     action_valid=np.ones(n, bool), format_valid=np.ones(n, bool))


def _returns(batch):
    return np.bincount(batch.traj_id, weights=batch.reward)


def test_mean_grounding_does_not_pay_for_longer_episodes():
    batch = _valid_steps([2, 6, 1])  # three trajectories of valid steps only, no progress
    # per-step grounding: the 6-step episode earns three times the 2-step one
    np.testing.assert_allclose(_returns(credit.get_shaper("progress")(batch, grounding="step")), [1.0, 3.0, 0.5])
    # per-trajectory mean: every trajectory earns beta = 0.5, whatever its length
    np.testing.assert_allclose(_returns(credit.get_shaper("progress")(batch)), [0.5, 0.5, 0.5])


def test_redistributed_progress_does_not_pay_for_longer_episodes():
    batch = _valid_steps([2, 6])
    batch = batch.with_extras(progress=np.full(8, 0.1), action_valid=np.zeros(8, bool))  # no grounding
    # raw contributions: the 6-step failure (R = 0) earns 0.6, three times the 2-step one
    np.testing.assert_allclose(_returns(credit.get_shaper("progress")(batch, redistribute=False)), [0.2, 0.6])
    shaped = credit.get_shaper("progress")(batch)  # shifted to sum to R = 0 in both: every step gets 0
    np.testing.assert_allclose(_returns(shaped), [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(shaped.reward, np.zeros(8), atol=1e-12)
    with pytest.raises(ValueError, match="grounding"):
        credit.get_shaper("progress")(batch, grounding="per_token")


def test_progress_shaper_without_contributions_explains_itself():
    with pytest.raises(KeyError, match="progress"):
        credit.get_shaper("progress")(_batch())


def _traj(steps_left, success, traj_id=0):
    steps = [Step(group_id=0, traj_id=traj_id, t=t, prompt=[], response="", action="", reward=0.0, state_key=str(t),
                  info={"expert_steps_left": left}) for t, left in enumerate(steps_left)]
    return Trajectory(group_id=0, traj_id=traj_id, task_id="x", steps=steps, success=success)


def test_oracle_progress_after_each_step():
    # expert needs 4 before the first step; after steps: 3, 4 (moved away), 2, then solved
    np.testing.assert_allclose(oracle_progress(_traj([4, 3, 4, 2], success=True)), [0.25, 0.0, 0.5, 1.0])
    # a failed last step has no known remaining plan
    out = oracle_progress(_traj([2, 1], success=False))
    assert out[0] == pytest.approx(0.5) and np.isnan(out[1])
    assert np.isnan(oracle_progress(_traj([None, None], success=True))).all()


def test_rankdata_and_spearman_hand_worked():
    np.testing.assert_allclose(rankdata(np.array([10.0, 20.0, 20.0, 5.0])), [2.0, 3.5, 3.5, 1.0])
    assert spearman(np.array([1.0, 2.0, 3.0]), np.array([3.0, 5.0, 9.0])) == pytest.approx(1.0)
    assert spearman(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])) == pytest.approx(-1.0)
    assert np.isnan(spearman(np.array([1.0, 1.0]), np.array([1.0, 2.0])))


def test_oracle_correlation_uses_cumulative_contributions():
    trajs = [_traj([4, 3, 4, 2], success=True), _traj([2, 1], success=False, traj_id=1)]
    c = np.array([0.25, -0.25, 0.5, 0.5, 0.5, 9.0])  # cumulative: .25, 0, .5, 1 | .5, (skipped)
    out = oracle_correlation(trajs, c)
    assert out["progress/oracle_steps"] == 5
    assert out["progress/oracle_spearman"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        oracle_correlation(trajs, c[:-1])


def _encoder(seed=0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(vocab_size=16, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                        num_attention_heads=1, num_key_value_heads=1, max_position_embeddings=64))


def _synthetic(n_traj=60, seed=0):
    """Steps whose response is token 5 are worth 1/2 each, all other steps nothing; R = their sum."""
    rng = np.random.default_rng(seed)
    trajs, returns = [], []
    for _ in range(n_traj):
        steps = [([int(x) for x in rng.integers(1, 16, size=rng.integers(2, 6))], [int(rng.integers(1, 16))])
                 for _ in range(rng.integers(1, 5))]
        trajs.append(steps)
        returns.append(0.5 * sum(r == [5] for _, r in steps))
    return trajs, returns


def test_fit_learns_step_contributions_from_trajectory_returns_only():
    trajs, returns = _synthetic(n_traj=200)
    estimator = ProgressEstimator(_encoder(), pad_id=0, train_encoder=False,
                                  settings=ProgressSettings(epochs=100, lr=1e-2, batch_trajectories=16, spread=0.0))
    before = estimator.predict([s for t in trajs for s in t])
    assert np.allclose(before, 0.0)  # zero-initialised output layer
    metrics = estimator.fit(trajs, returns)
    assert metrics["progress/fit_loss"] < 0.01 and metrics["progress/val_loss"] < 0.01
    unseen = [step for traj in _synthetic(n_traj=40, seed=1)[0] for step in traj]
    c = estimator.predict(unseen)
    worth = np.array([r == [5] for _, r in unseen])
    assert c[worth].mean() == pytest.approx(0.5, abs=0.1) and c[~worth].mean() == pytest.approx(0.0, abs=0.1)


def test_spread_splits_a_return_evenly_where_the_sum_alone_leaves_the_split_free():
    """Every trajectory is the same two steps with R = 1, so any c_A + c_B = 1 fits the sum. With spread s the
    loss (2a - 1)^2 + 2 s a^2 is smallest at c_A = c_B = a = 1 / (2 + s): 0.4348 for s = 0.3. Without it, the
    split is wherever the head's features put it."""
    trajs, returns = [[([1, 2, 3], [4]), ([1, 2, 6], [7])]] * 20, [1.0] * 20

    def contributions(spread):
        estimator = ProgressEstimator(_encoder(), pad_id=0, train_encoder=False,
                                      settings=ProgressSettings(epochs=300, lr=1e-2, batch_trajectories=20,
                                                                val_frac=0.0, spread=spread))
        estimator.fit(trajs, returns)
        return estimator.predict(trajs[0])

    c = contributions(0.3)
    np.testing.assert_allclose(c, [1 / 2.3, 1 / 2.3], atol=0.01)
    free = contributions(0.0)
    assert free.sum() == pytest.approx(1.0, abs=0.01) and abs(free[0] - free[1]) > 0.05


def test_early_stopping_keeps_the_epoch_with_the_lowest_held_back_loss():
    """Noisy returns and a high lr overfit: the kept weights are those of the best held-back epoch, which the
    same fit run to the end (same seed, same batches) cannot beat on the held-back trajectories."""
    trajs, returns = _synthetic(n_traj=40)
    noisy = [r + float(e) for r, e in zip(returns, np.random.default_rng(3).normal(0, 0.5, len(returns)))]

    def fit(early_stopping):
        estimator = ProgressEstimator(_encoder(), pad_id=0, train_encoder=False,
                                      settings=ProgressSettings(epochs=60, lr=3e-2, batch_trajectories=8,
                                                                val_frac=0.25, early_stopping=early_stopping))
        return estimator.fit(trajs, noisy)

    kept, last = fit(True), fit(False)
    assert last["progress/fit_epochs"] == 60 and 1 <= kept["progress/fit_epochs"] < 60
    assert kept["progress/val_loss"] < last["progress/val_loss"]
    assert kept["progress/fit_loss"] > last["progress/fit_loss"]  # stopped before it fitted the noise


def test_building_does_not_touch_the_global_rng_and_fitting_keeps_a_frozen_encoder():
    encoder = _encoder()
    weights = {k: v.clone() for k, v in encoder.state_dict().items()}
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    estimator = ProgressEstimator(encoder, pad_id=0, train_encoder=False, settings=ProgressSettings(epochs=2))
    assert torch.equal(torch.rand(3), expected)
    estimator.fit(*_synthetic(n_traj=8))
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, weights[key]), key


def test_separate_encoder_is_fine_tuned():
    encoder = _encoder()
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    estimator = ProgressEstimator(encoder, pad_id=0, train_encoder=True, settings=ProgressSettings(epochs=2))
    estimator.fit(*_synthetic(n_traj=12))
    assert any(not torch.equal(v, before[k]) for k, v in encoder.state_dict().items())


def test_save_load_gives_the_same_predictions(tmp_path):
    trajs, returns = _synthetic(n_traj=20)
    estimator = ProgressEstimator(_encoder(), pad_id=0, train_encoder=True, settings=ProgressSettings(epochs=3))
    estimator.fit(trajs, returns)
    estimator.save(tmp_path / "estimator")
    estimator.save(tmp_path / "estimator")  # overwriting an existing folder is atomic too
    loaded = ProgressEstimator.load(tmp_path / "estimator")
    steps = [s for t in trajs for s in t]
    np.testing.assert_allclose(loaded.predict(steps), estimator.predict(steps), atol=1e-6)
    assert loaded.train_encoder and loaded.settings.epochs == 3
    assert not list(tmp_path.glob(".*tmp")) and not list(tmp_path.glob(".*old"))


def test_features_are_the_prompt_state_and_the_mean_response_state_whatever_the_padding():
    encoder = _encoder()
    estimator = ProgressEstimator(encoder, pad_id=0, train_encoder=False)
    steps = [([3, 4, 5, 6, 7], [8, 9]), ([2], [11, 12, 13])]
    with torch.no_grad():
        batched = estimator._features(steps)
        for i, (prompt, response) in enumerate(steps):
            hidden = encoder(input_ids=torch.tensor([prompt + response]),
                             output_hidden_states=True).hidden_states[-1][0]  # (L, H)
            expected = torch.cat([hidden[len(prompt) - 1], hidden[len(prompt):].mean(0)])
            torch.testing.assert_close(batched[i], expected, atol=1e-5, rtol=1e-4)
