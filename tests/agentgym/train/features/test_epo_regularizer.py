"""EPO loss pieces: hand-worked values, gradient directions and the running entropy history."""

import math

import pytest
import torch

from agentgym.train.features.epo.regularizer import (
    EPORegularizer,
    corridor_penalty,
    epo_term,
    phase_weight,
    smoothing_loss,
    trajectory_mean,
    trajectory_row_weights,
)

# three step samples: rows 0 and 1 belong to trajectory 7, row 2 to trajectory 3; zeros past the mask are padding
ENTROPIES = [[0.5, 2.5, 9.0], [1.0, 1.0, 1.0], [3.0, 0.2, 9.0]]
MASK = [[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [1.0, 1.0, 0.0]]
TRAJ = [7, 7, 3]


def tensors():
    return torch.tensor(ENTROPIES, requires_grad=True), torch.tensor(MASK)


def test_phase_weight_schedule():
    assert phase_weight(0, 75) == 2.0
    assert phase_weight(75, 75, gamma=3.0) == pytest.approx(1 + math.exp(-3))
    assert phase_weight(150, 75, gamma=3.0) == pytest.approx(1 + math.exp(-6))
    assert EPORegularizer(total_iterations=150).k_mid == 75


def test_trajectory_mean_weights_trajectories_equally():
    h, mask = tensors()
    # step token means 1.5, 1.0, 1.6; trajectory 7 -> 1.25, trajectory 3 -> 1.6; mean 1.425
    assert float(trajectory_mean(h, mask, TRAJ).detach()) == pytest.approx(1.425)
    weights = trajectory_row_weights(TRAJ, mask.sum(-1) > 0)
    assert weights.tolist() == pytest.approx([0.25, 0.25, 0.5])
    # a row without counted tokens is not a step: trajectory 7 then has one step
    no_tokens = torch.tensor([MASK[0], [0.0, 0.0, 0.0], MASK[2]])
    assert float(trajectory_mean(h, no_tokens, TRAJ).detach()) == pytest.approx((1.5 + 1.6) / 2)


def test_corridor_penalty_values():
    h = torch.tensor([0.2, 0.5, 1.0, 2.0, 3.0])
    # band [0.5, 2.0] around Hbar = 1: below by 0.3, inside, inside, inside, above by 1
    assert corridor_penalty(h, 1.0, kappa_l=0.5, kappa_r=2.0).tolist() == pytest.approx([0.3, 0, 0, 0, 1.0])


def test_smoothing_penalty_value_and_gradient_direction():
    h, mask = tensors()
    loss = smoothing_loss(h, mask, TRAJ, reference=1.0, kappa_l=0.5, kappa_r=2.0, alpha=0.1)
    # token penalties: row 0 [0, 0.5], row 1 [0, 0, 0], row 2 [1.0, 0.3]; step means 0.25, 0, 0.65;
    # trajectory 7 -> 0.125, trajectory 3 -> 0.65; mean 0.3875; times alpha 0.1
    assert float(loss.detach()) == pytest.approx(0.03875)
    loss.backward()
    grad = h.grad
    assert grad[0, 1] > 0 and grad[2, 0] > 0  # above the band: descent lowers the entropy
    assert grad[2, 1] < 0  # below the band: descent raises it
    assert float(grad[1].abs().sum()) == 0.0 and float(grad[0, 0]) == 0.0  # inside (or on the edge): no push
    assert float(grad[0, 2]) == 0.0 and float(grad[2, 2]) == 0.0  # padding
    # d/dH = alpha * row weight / row tokens: row 0 -> 0.1 * 0.25 / 2, row 2 -> 0.1 * 0.5 / 2
    assert float(grad[0, 1]) == pytest.approx(0.0125)
    assert float(grad[2, 0]) == pytest.approx(0.025) and float(grad[2, 1]) == pytest.approx(-0.025)


def test_full_term_value_and_gradients():
    h, mask = tensors()
    loss, metrics = epo_term(h, mask, TRAJ, reference=1.0, beta=2.0, coef=0.001, kappa_l=0.5, kappa_r=2.0,
                             alpha=0.1)
    # coef * (beta * L_smooth - L_H) = 0.001 * (2 * 0.03875 - 1.425)
    assert float(loss.detach()) == pytest.approx(-0.0013475)
    assert metrics["loss/epo_entropy"] == pytest.approx(1.425)
    assert metrics["loss/epo_smooth"] == pytest.approx(0.03875)
    assert metrics["loss/epo_out_of_band_frac"] == pytest.approx(3 / 7)  # 2.5, 3.0, 0.2 of 7 counted tokens
    loss.backward()
    # per token: coef * row weight / row tokens * (beta * alpha * dP/dH - 1)
    assert float(h.grad[1, 0]) == pytest.approx(-0.001 * 0.25 / 3)  # in band: only the entropy bonus
    assert float(h.grad[2, 0]) == pytest.approx(0.001 * 0.25 * (0.2 - 1))  # above: bonus minus penalty
    assert float(h.grad[2, 1]) == pytest.approx(0.001 * 0.25 * (-0.2 - 1))  # below: both push entropy up
    # with a strong penalty the corridor wins over the bonus above the band
    h2, _ = tensors()
    strong, _ = epo_term(h2, mask, TRAJ, reference=1.0, beta=2.0, coef=0.001, kappa_l=0.5, kappa_r=2.0, alpha=1.0)
    strong.backward()
    assert float(h2.grad[2, 0]) == pytest.approx(0.001 * 0.25 * (2.0 - 1)) and h2.grad[2, 0] > 0


def test_no_reference_means_entropy_term_only():
    h, mask = tensors()
    loss, metrics = epo_term(h, mask, TRAJ, reference=None, beta=2.0, coef=0.01)
    assert float(loss.detach()) == pytest.approx(-0.01 * 1.425)
    assert math.isnan(metrics["loss/epo_reference"]) and metrics["loss/epo_smooth"] == 0.0


def test_micro_batches_with_global_row_weights_sum_to_the_whole():
    h, mask = tensors()
    whole, _ = epo_term(h, mask, TRAJ, reference=1.0, beta=1.5, kappa_l=0.5)
    weights = trajectory_row_weights(TRAJ, mask.sum(-1) > 0)
    parts = [epo_term(h[rows], mask[rows], [TRAJ[i] for i in rows], reference=1.0, beta=1.5, kappa_l=0.5,
                      row_weights=weights[rows])[0] for rows in ([0, 2], [1])]
    assert float(sum(parts).detach()) == pytest.approx(float(whole.detach()))


@pytest.fixture
def one_thread():
    """Tiny tensors: a second intra-op thread only adds contention on a shared CPU (40 ms vs 2 ms a step)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_descent_on_the_penalty_moves_entropy_into_the_band(one_thread):
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 6) * 0.3  # near-uniform tokens: entropy ~1.75, above the band
    logits[0, :2] = torch.tensor([4.0, 0, 0, 0, 0, 0])  # two confident tokens: entropy 0.42, below it
    logits.requires_grad_(True)
    mask = torch.ones(2, 4)

    def entropy():
        logp = torch.log_softmax(logits, dim=-1)
        return -(logp.exp() * logp).sum(-1)  # (2, 4)

    low, high = 0.5, 1.2  # kappa_l, kappa_r around Hbar = 1
    before = entropy().detach()
    assert int((before < low).sum()) == 2 and int((before > high).sum()) == 6
    for _ in range(30):  # plain gradient descent, lr 20 (torch.optim's first use imports dynamo: slow here)
        logits.grad = None
        smoothing_loss(entropy(), mask, [0, 1], 1.0, kappa_l=low, kappa_r=high, alpha=1.0).backward()
        with torch.no_grad():
            logits -= 20.0 * logits.grad
    after = entropy().detach()
    assert bool(((after >= low) & (after <= high)).all())


def test_regularizer_keeps_a_cumulative_history():
    reg = EPORegularizer(coef=0.001, kappa_l=0.5, kappa_r=2.0, gamma=3.0, alpha=0.1, total_iterations=10)
    ones = torch.ones(1, 2)
    loss, metrics = reg(torch.full((1, 2), 2.0), ones, [0], k=0)
    assert reg.reference is None and float(loss.detach()) == pytest.approx(-0.001 * 2.0)
    assert metrics["loss/epo_beta"] == 2.0
    reg(torch.tensor([[4.0, 0.0, 0.0]]), torch.tensor([[1.0, 0.0, 0.0]]), [1], k=0)  # padding is not counted
    # iteration 0's mean token entropy: (2 + 2 + 4) / 3
    _, metrics = reg(torch.full((1, 2), 1.0), ones, [0], k=1)
    assert reg.reference == pytest.approx(8 / 3) and metrics["loss/epo_reference"] == pytest.approx(8 / 3)
    assert metrics["loss/epo_beta"] == pytest.approx(1 + math.exp(-3 * 1 / 5))
    # iteration 1's mean is 1.0; the history is the mean of the per-iteration means, not of all tokens
    reg(torch.full((1, 2), 5.0), ones, [0], k=2)
    assert reg.reference == pytest.approx((8 / 3 + 1.0) / 2)
    with pytest.raises(ValueError, match="forward"):
        reg(torch.ones(1, 2), ones, [0], k=1)


def test_regularizer_state_round_trip_and_gradient():
    reg = EPORegularizer(kappa_l=0.5, kappa_r=1.5)
    reg(torch.full((1, 3), 2.0), torch.ones(1, 3), [0], k=0)
    reg(torch.full((1, 3), 1.0), torch.ones(1, 3), [0], k=1)
    restored = EPORegularizer(kappa_l=0.5, kappa_r=1.5)
    restored.load_state_dict(reg.state_dict())
    h = torch.tensor([[5.0, 1.0]], requires_grad=True)
    loss, _ = restored(h, torch.ones(1, 2), [0], k=2)
    expected, _ = reg(torch.tensor([[5.0, 1.0]]), torch.ones(1, 2), [0], k=2)
    assert float(loss.detach()) == pytest.approx(float(expected.detach()))
    assert restored.reference == pytest.approx(1.5)
    loss.backward()
    assert h.grad is not None and float(h.grad[0, 0]) != float(h.grad[0, 1])  # the corridor moves the gradient
