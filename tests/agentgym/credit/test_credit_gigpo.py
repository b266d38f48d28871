"""GiGPO on hand-worked batches (issue 5's cases) and against a plain-loop reference implementation."""

import math
from statistics import mean, stdev

import numpy as np
import pytest

from agentgym import StepBatch, credit
from agentgym.credit.anchors import greedy_clusters

EPS = 1e-6
R2 = math.sqrt(0.5)  # 0.7071...: the mean_std advantage of the larger/smaller value in any pair


def make_batch(trajectories):
    """trajectories: (group_id, [state keys], [rewards]); traj ids are their positions."""
    return StepBatch.from_records(
        dict(group_id=g, traj_id=i, t=t, reward=r, state_key=k)
        for i, (g, keys, rewards) in enumerate(trajectories) for t, (k, r) in enumerate(zip(keys, rewards)))


gigpo = credit.get("gigpo")

# traj 0 succeeds S -> A -> G1; traj 1 fails S -> B -> A -> X: they cross at S (t=0, t=0) and A (t=1, t=2)
CROSSING = [(0, ["S", "A", "G1"], [0, 0, 1]), (0, ["S", "B", "A", "X"], [0, 0, 0, 0])]


def test_two_trajectories_crossing_the_same_state():
    # A_E = +-0.5 / (std sqrt(0.5) + eps); gamma 0.5 -> R_t traj 0 = [0.25, 0.5, 1], traj 1 = 0
    # step groups S {0.25, 0} and A {0.5, 0} -> +-0.125 / (0.1768 + eps) = +-0.7071; B, G1, X alone -> 0
    e = 0.5 / (R2 + EPS)
    s = 0.125 / (math.sqrt(2) * 0.125 + EPS)
    a = 0.25 / (math.sqrt(2) * 0.25 + EPS)
    expected = [e + s, e + a, e, -e - s, -e, -e - a, -e]
    np.testing.assert_allclose(gigpo(make_batch(CROSSING), gamma=0.5), expected, rtol=1e-9)


def test_crossing_with_mean_norm():
    # A_E = +-0.5; S group +-0.125; A group +-0.25
    expected = [0.625, 0.75, 0.5, -0.625, -0.5, -0.75, -0.5]
    np.testing.assert_allclose(gigpo(make_batch(CROSSING), gamma=0.5, norm="mean"), expected, rtol=1e-12)


def test_episode_stats_step_counts_every_step_sample():
    # step scores: three 1s (traj 0) and four 0s (traj 1): mean 3/7, Bessel std sqrt(2/7)
    std = math.sqrt(2 / 7)
    e0, e1 = (4 / 7) / (std + EPS), (-3 / 7) / (std + EPS)
    adv = gigpo(make_batch(CROSSING), gamma=0.5, omega=0.0, episode_stats="step")
    np.testing.assert_allclose(adv, [e0] * 3 + [e1] * 4, rtol=1e-9)
    adv = gigpo(make_batch(CROSSING), gamma=0.5, omega=0.0, episode_stats="step", norm="mean")
    np.testing.assert_allclose(adv, [4 / 7] * 3 + [-3 / 7] * 4, rtol=1e-12)


def test_omega_weights_the_step_term():
    base = gigpo(make_batch(CROSSING), gamma=0.5, omega=0.0, norm="mean")
    doubled = gigpo(make_batch(CROSSING), gamma=0.5, omega=2.0, norm="mean")
    np.testing.assert_allclose(doubled - base, 2 * np.array([0.125, 0.25, 0, -0.125, 0, -0.25, 0]), atol=1e-12)


def test_loop_revisiting_a_state_joins_its_own_step_group():
    # traj 0: S -> L -> S -> G, reward at the end; gamma 0.5 -> R_t = [0.125, 0.25, 0.5, 1]
    # S visited at t=0 and t=2 -> one step group {0.125, 0.5}: A_S = -+0.7071 (mean_std), -+0.1875 (mean)
    batch = make_batch([(0, ["S", "L", "S", "G"], [0, 0, 0, 1]), (0, ["X"], [0])])
    e = 0.5 / (R2 + EPS)
    s = 0.1875 / (math.sqrt(2) * 0.1875 + EPS)
    np.testing.assert_allclose(gigpo(batch, gamma=0.5), [e - s, e, e + s, e, -e], rtol=1e-9)
    np.testing.assert_allclose(gigpo(batch, gamma=0.5, norm="mean"), [0.3125, 0.5, 0.6875, 0.5, -0.5],
                               rtol=1e-12)


def test_singleton_groups_reduce_to_grpo_and_never_cross_episode_groups():
    # the same key "S" in two different episode groups must not form a step group
    batch = make_batch([(0, ["S", "A"], [0, 1]), (1, ["S"], [0]), (2, ["S", "B"], [0, 0]), (2, ["C"], [1])])
    adv = gigpo(batch, gamma=0.5)
    np.testing.assert_allclose(adv, credit.get("grpo")(batch), rtol=1e-12)
    # lone trajectories keep their raw return (mean 0, std 1 at the episode level)
    np.testing.assert_allclose(adv[:3], [1 / (1 + EPS), 1 / (1 + EPS), 0.0], rtol=1e-12)


def test_all_equal_returns_leave_only_the_step_level_signal():
    # both succeed, so A_E = 0; at the shared start S the faster one (R_0 = 0.5 vs 0.25) is preferred;
    # the shared goal state G has equal returns -> 0
    batch = make_batch([(0, ["S", "G"], [0, 1]), (0, ["S", "A", "G"], [0, 0, 1])])
    s = 0.125 / (math.sqrt(2) * 0.125 + EPS)
    np.testing.assert_allclose(gigpo(batch, gamma=0.5), [s, 0, -s, 0, 0], rtol=1e-9, atol=1e-12)
    failed = make_batch([(0, ["S", "A"], [0, 0]), (0, ["S", "A", "A"], [0, 0, 0])])
    np.testing.assert_allclose(gigpo(failed), 0.0, atol=1e-12)


SIMILAR = ["You see a red apple on the wooden table.", "You see a red apple on the wooden table!",
           "The door is locked."]


def test_similarity_grouping_merges_near_identical_observations():
    # ratio of the first two keys is 0.975: exact matching keeps them apart, thresh 0.9 merges them
    batch = make_batch([(0, [SIMILAR[0], SIMILAR[2]], [0, 1]), (0, [SIMILAR[1], SIMILAR[2]], [0, 0])])
    e = 0.5 / (R2 + EPS)
    exact = gigpo(batch, gamma=0.5, norm="mean")
    np.testing.assert_allclose(exact, [0.5, 0.5 + 0.5, -0.5, -0.5 - 0.5], rtol=1e-12)
    similar = gigpo(batch, gamma=0.5, similarity_thresh=0.9)
    s = 0.25 / (math.sqrt(2) * 0.25 + EPS)
    t = 0.5 / (math.sqrt(2) * 0.5 + EPS)
    np.testing.assert_allclose(similar, [e + s, e + t, -e - s, -e - t], rtol=1e-9)


def test_greedy_clusters_compare_with_the_first_member_only():
    # ratio(a, b) = 0.9, ratio(b, c) = 0.9, ratio(a, c) = 0.8: c does not join a's cluster through b
    texts = ["aaaaaaaaaabbbbbbbbbb", "aaaaaaaaaabbbbbbbbcc", "aaaaaaaaaabbbbbbcccc"]
    assert greedy_clusters(texts, 0.85) == [0, 0, 2]
    assert greedy_clusters(texts, 0.75) == [0, 0, 0]
    assert greedy_clusters(texts, 0.95) == [0, 1, 2]


def test_invalid_parameters_are_refused():
    batch = make_batch(CROSSING)
    with pytest.raises(ValueError, match="episode_stats"):
        gigpo(batch, episode_stats="steps")
    with pytest.raises(ValueError, match="similarity_thresh"):
        gigpo(batch, similarity_thresh=1.5)
    with pytest.raises(ValueError, match="gamma"):
        gigpo(batch, gamma=1.5)


def test_diagnostics_by_hand():
    batch = make_batch(CROSSING)
    adv = gigpo(batch, gamma=0.5)
    stats = credit.DIAGNOSTICS.get("gigpo")(batch, adv, gamma=0.5)
    # step groups S(2), A(2), G1(1), B(1), X(1)
    assert stats["credit/step_group_count"] == 5
    assert stats["credit/step_group_mean_size"] == pytest.approx(7 / 5)
    assert stats["credit/step_group_singleton_frac"] == pytest.approx(3 / 5)
    assert stats["credit/step_group_size_2_4_frac"] == pytest.approx(2 / 5)
    assert stats["credit/step_in_singleton_frac"] == pytest.approx(3 / 7)
    assert stats["credit/step_adv_changed_frac"] == pytest.approx(4 / 7)
    assert stats["credit/episode_adv_abs_mean"] == pytest.approx(0.5 / (R2 + EPS))
    assert stats["credit/step_adv_abs_mean"] == pytest.approx(4 * R2 / 7, rel=1e-5)


def reference_gigpo(rows, gamma, omega, norm, episode_stats):
    """Straight loops over docs/architecture.md, "Credit definitions" (rows: group, traj, t, reward, key)."""
    def normalise(value, pool, singleton):
        if len(pool) == 1:
            return singleton(value)
        scale = stdev(pool) + EPS if norm == "mean_std" else 1.0
        return (value - mean(pool)) / scale

    lone = (lambda v: v / (1 + EPS)) if norm == "mean_std" else (lambda v: v)
    trajs = {}
    for g, tr, t, r, _ in rows:
        trajs.setdefault(tr, (g, {}))[1][t] = r
    ret = {tr: sum(steps.values()) for tr, (g, steps) in trajs.items()}
    disc = {}
    for tr, (_, steps) in trajs.items():
        running = 0.0
        for t in sorted(steps, reverse=True):
            running = steps[t] + gamma * running
            disc[tr, t] = running
    out = []
    for g, tr, t, _, key in rows:
        if episode_stats == "trajectory":
            pool = [ret[o] for o, (og, _) in trajs.items() if og == g]
        else:
            pool = [ret[o] for og, o, _, _, _ in rows if og == g]
        a_e = normalise(ret[tr], pool, lone)
        pool = [disc[o, ot] for og, o, ot, _, ok in rows if og == g and ok == key]
        a_s = normalise(disc[tr, t], pool, lambda v: 0.0)
        out.append(a_e + omega * a_s)
    return out


@pytest.mark.parametrize("norm", ["mean_std", "mean"])
@pytest.mark.parametrize("episode_stats", ["trajectory", "step"])
def test_matches_plain_loop_reference_on_random_batches(norm, episode_stats):
    rng = np.random.default_rng(7)
    for _ in range(8):
        rows, traj = [], 0
        for g in range(3):
            for _ in range(int(rng.integers(1, 5))):
                length = int(rng.integers(1, 7))
                for t in range(length):
                    reward = float(rng.choice([0.0, 0.0, 1.0, -0.1]))
                    rows.append((g, traj, t, reward, f"s{rng.integers(0, 4)}"))
                traj += 1
        rng.shuffle(rows)
        batch = StepBatch.from_records(dict(zip(("group_id", "traj_id", "t", "reward", "state_key"), r))
                                       for r in rows)
        got = gigpo(batch, gamma=0.9, omega=0.7, norm=norm, episode_stats=episode_stats)
        expected = reference_gigpo(rows, 0.9, 0.7, norm, episode_stats)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_factorize_survives_hash_collisions():
    # hash(-1) == hash(-2) in CPython: equal hashes must not merge different values
    from agentgym.credit.groups import factorize

    values = np.array([-1, -2, -1, "a", -2], dtype=object)
    codes = factorize(values)
    assert codes[0] == codes[2] and codes[1] == codes[4] and len({codes[0], codes[1], codes[3]}) == 3
