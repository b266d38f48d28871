"""EMPG modifier and entropy diagnostics, checked on small hand-worked batches."""

import math

import numpy as np
import pytest

from agentgym import credit
from agentgym.core.types import StepBatch
from agentgym.credit.empg import empg, entropy_scale, future_bonus, normalised_entropy
from agentgym.credit.entropy_diagnostics import entropy_diagnostics


def make_batch(rows, **extras):
    """rows: (group_id, traj_id, t, entropy); rewards are irrelevant to EMPG."""
    records = [{"group_id": g, "traj_id": tr, "t": t, "reward": 0.0, "state_key": f"s{t}", "entropy": h}
               for g, tr, t, h in rows]
    for name, values in extras.items():
        for record, value in zip(records, values):
            record[name] = value
    return StepBatch.from_records(records)


def test_registered_as_modifier():
    assert credit.get_modifier("empg") is empg


def test_min_max_normalisation():
    h = normalised_entropy(np.array([1.0, 3.0, 2.0, np.nan]))
    np.testing.assert_allclose(h[:3], [0.0, 1.0, 0.5], atol=1e-7)
    assert np.isnan(h[3])


def test_scale_has_batch_mean_one_and_orders_by_confidence():
    h_norm = np.array([0.0, 0.2, 0.7, 1.0, np.nan])
    for k in (0.5, 1.0, 3.0):
        g = entropy_scale(h_norm, k)
        assert g.mean() == pytest.approx(1.0, abs=1e-12)
        assert g[4] == 1.0  # unknown entropy is neutral
        assert np.all(np.diff(g[:4]) < 0)  # lower entropy, larger scale
        assert g[0] > 1.0 > g[3]


def test_confident_steps_amplified_uncertain_damped():
    # success traj 0 (A=+1) and failure traj 1 (A=-1), each with a confident (H=0.1) and an uncertain (H=2) step;
    # the layout is symmetric so sum(g * A) = 0 and re-centring shifts nothing; zeta=0 isolates the scale
    batch = make_batch([(0, 0, 0, 0.1), (0, 0, 1, 2.0), (0, 1, 0, 0.1), (0, 1, 1, 2.0)])
    adv = np.array([1.0, 1.0, -1.0, -1.0])
    out = empg(batch, adv, zeta=0.0)
    confident, uncertain = np.array([0, 2]), np.array([1, 3])
    assert np.all(np.abs(out[confident]) > 1.0)
    assert np.all(np.abs(out[uncertain]) < 1.0)
    assert np.all(np.sign(out) == np.sign(adv))  # the modulation never flips a sign here
    # g = [1, e^-1] / ((1 + e^-1) / 2)
    g_conf, g_unc = 2 / (1 + math.exp(-1)), 2 * math.exp(-1) / (1 + math.exp(-1))
    np.testing.assert_allclose(out, [g_conf, g_unc, -g_conf, -g_unc], rtol=1e-6)


def test_last_step_gets_no_future_bonus_and_rows_in_any_order():
    # traj 5 has steps t=0,1,2 given in shuffled row order; traj 9 has one step
    batch = make_batch([(0, 5, 2, 1.0), (0, 9, 0, 0.0), (0, 5, 0, 0.5), (0, 5, 1, 0.0)])
    h_norm = normalised_entropy(batch.entropy)  # [1, 0, 0.5, 0]
    f = future_bonus(batch, h_norm, k_prime=2.0)
    # row 2 (t=0) sees t=1 (H~=0): e^0; row 3 (t=1) sees t=2 (H~=1): e^-2; last steps (rows 0, 1) get 0
    np.testing.assert_allclose(f, [0.0, 0.0, 1.0, math.exp(-2.0)], atol=1e-7)


def test_gap_in_t_and_unknown_next_entropy_give_no_bonus():
    batch = make_batch([(0, 1, 0, 0.2), (0, 1, 2, 0.4), (0, 2, 0, 0.3), (0, 2, 1, float("nan"))])
    f = future_bonus(batch, normalised_entropy(batch.entropy))
    assert f[0] == 0.0  # t=1 is missing: t=2 is not the next step
    assert f[2] == 0.0  # next step's entropy is unknown


def test_hand_worked_full_formula():
    # entropies 1, 3, 2 -> H~ = 0, 1, 0.5 (k=k'=1, zeta=0.05); traj 0 succeeded (A=+1), traj 1 failed (A=-1)
    # exp(-H~) = 1, e^-1, e^-0.5; mean = 0.6581370; g = 1.5194412, 0.5589712, 0.9215877
    # f = e^-1 = 0.3678794 for traj 0's first step (its next step has H~=1), 0 for the two last steps
    # A' = 1.5194412 + 0.05 * 0.3678794, 0.5589712, -0.9215877 = 1.5378352, 0.5589712, -0.9215877
    # mean = 0.3917396 -> A' - mean = 1.1460956, 0.1672316, -1.3133272
    batch = make_batch([(0, 0, 0, 1.0), (0, 0, 1, 3.0), (0, 1, 0, 2.0)])
    out = empg(batch, np.array([1.0, 1.0, -1.0]))
    np.testing.assert_allclose(out, [1.1460956, 0.1672316, -1.3133272], atol=1e-6)
    assert out.mean() == pytest.approx(0.0, abs=1e-12)
    # the same steps in another row order get the same advantages, row by row
    perm = np.array([2, 0, 1])
    shuffled = make_batch([[(0, 0, 0, 1.0), (0, 0, 1, 3.0), (0, 1, 0, 2.0)][i] for i in perm])
    np.testing.assert_allclose(empg(shuffled, np.array([1.0, 1.0, -1.0])[perm]), out[perm], atol=1e-12)


def test_ablations_reduce_to_their_parts():
    batch = make_batch([(0, 0, 0, 1.0), (0, 0, 1, 3.0), (0, 1, 0, 2.0)])
    adv = np.array([0.5, 0.5, -1.0])
    bonus_only = empg(batch, adv, k=0.0)  # g = 1: A + zeta * f, re-centred
    expected = adv + np.array([0.05 * math.exp(-1), 0.0, 0.0])
    np.testing.assert_allclose(bonus_only, expected - expected.mean(), atol=1e-7)


def test_unknown_entropy_is_neutral_and_all_unknown_raises():
    batch = make_batch([(0, 0, 0, float("nan")), (0, 0, 1, 1.0), (0, 1, 0, 3.0)])
    out = empg(batch, np.array([2.0, 1.0, -1.0]), zeta=0.0)
    # known steps: H~ = 0, 1 -> g = 2/(1+e^-1), 2e^-1/(1+e^-1); the NaN step keeps g = 1
    g0, g1 = 2 / (1 + math.exp(-1)), 2 * math.exp(-1) / (1 + math.exp(-1))
    raw = np.array([2.0, g0, -g1])
    np.testing.assert_allclose(out, raw - raw.mean(), atol=1e-7)
    with pytest.raises(ValueError, match="entropies"):
        empg(make_batch([(0, 0, 0, float("nan"))]), np.array([1.0]))


def test_shape_mismatch_and_duplicates_rejected():
    batch = make_batch([(0, 0, 0, 1.0), (0, 0, 1, 2.0)])
    with pytest.raises(ValueError, match="shape"):
        empg(batch, np.zeros(3))
    with pytest.raises(ValueError, match="twice"):
        empg(make_batch([(0, 0, 0, 1.0), (0, 0, 0, 2.0)]), np.zeros(2))


def test_composes_with_an_estimator():
    rows = [(0, 0, 0, 0.2), (0, 0, 1, 1.5), (0, 1, 0, 0.9), (1, 2, 0, 0.4), (1, 3, 0, 2.2)]
    records = [{"group_id": g, "traj_id": tr, "t": t, "reward": float(tr % 2 == 0), "state_key": "s",
                "entropy": h} for g, tr, t, h in rows]
    batch = StepBatch.from_records(records)
    adv = credit.get("grpo")(batch)
    out = credit.get_modifier("empg")(batch, adv, k=1.0, k_prime=1.0, zeta=0.05)
    assert out.shape == (5,) and out.mean() == pytest.approx(0.0, abs=1e-12)
    assert not np.allclose(out, adv)


def test_diagnostics_hand_worked():
    batch = make_batch([(0, 0, 0, 1.0), (0, 0, 1, 3.0), (0, 1, 0, 2.0), (0, 1, 1, float("nan"))],
                       traj_success=[True, True, False, False])
    before = np.array([1.0, 1.0, -1.0, -1.0])
    after = np.array([1.5, 0.5, -1.0, 0.2])
    stats = entropy_diagnostics(batch, before, after)
    assert stats["entropy/step_mean"] == pytest.approx(2.0)
    assert stats["entropy/step_std"] == pytest.approx(math.sqrt(2 / 3))  # population std of 1, 3, 2
    assert stats["entropy/success_mean"] == pytest.approx(2.0)  # steps of traj 0: 1 and 3
    assert stats["entropy/failure_mean"] == pytest.approx(2.0)  # traj 1: only the known step, 2
    assert stats["entropy/empg_amplified_frac"] == pytest.approx(0.25)  # row 0
    assert stats["entropy/empg_damped_frac"] == pytest.approx(0.5)  # rows 1 and 3; row 2 unchanged
    assert stats["entropy/missing_frac"] == pytest.approx(0.25)


def test_diagnostics_without_success_flags_or_modifier():
    batch = make_batch([(0, 0, 0, 0.5), (0, 1, 0, 1.5)])
    adv = np.array([1.0, -1.0])
    stats = entropy_diagnostics(batch, adv, adv.copy())
    assert math.isnan(stats["entropy/success_mean"]) and math.isnan(stats["entropy/failure_mean"])
    assert stats["entropy/empg_amplified_frac"] == 0.0 and stats["entropy/empg_damped_frac"] == 0.0
    assert stats["entropy/step_mean"] == pytest.approx(1.0)


def test_diagnostics_after_empg_match_the_scale():
    # symmetric batch, zeta=0: exactly the confident half is amplified and the uncertain half damped
    batch = make_batch([(0, 0, 0, 0.1), (0, 0, 1, 2.0), (0, 1, 0, 0.1), (0, 1, 1, 2.0)],
                       traj_success=[1, 1, 0, 0])
    adv = np.array([1.0, 1.0, -1.0, -1.0])
    stats = entropy_diagnostics(batch, adv, empg(batch, adv, zeta=0.0))
    assert stats["entropy/empg_amplified_frac"] == 0.5 and stats["entropy/empg_damped_frac"] == 0.5
    assert stats["entropy/success_mean"] == pytest.approx(1.05)
