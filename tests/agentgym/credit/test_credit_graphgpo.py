"""GraphGPO: hand-worked graphs, and agreement with a direct transcription of verl-agent's recipe/GraphGPO
code (its dict graph, reverse Dijkstra from 'success', one beyond the farthest node where no path, per-anchor
loops, verl-agent's episode statistics) on 200 random batches per setting."""

import difflib
import heapq
from collections import defaultdict

import numpy as np
import pytest

from agentgym import StepBatch, credit
from agentgym.credit.graphgpo import distances_to_goal, graphgpo_parts

EPS = 1e-6


def batch_of(trajs, group_of=None):
    """trajs: list of (states, rewards, success); all in group 0 unless ``group_of`` maps traj index -> group."""
    records = []
    for i, (states, rewards, success) in enumerate(trajs):
        for t, (s, r) in enumerate(zip(states, rewards)):
            records.append(dict(group_id=(group_of or {}).get(i, 0), traj_id=i, t=t, reward=float(r), state_key=s,
                                traj_success=bool(success)))
    return records


# traj 0: A -> B -> goal; traj 1: A -> C -> B -> fails. Distances: B 1, A 2, C 2.
HAND = [(["A", "B"], [0, 1], True), (["A", "C", "B"], [0, 0, 0], False)]


def test_hand_worked_graph_returns_and_advantages():
    batch = StepBatch.from_records(batch_of(HAND))
    parts = graphgpo_parts(batch, norm="mean")
    np.testing.assert_array_equal(parts.dist_here, [2, 1, 2, 2, 1])
    np.testing.assert_array_equal(parts.dist_next, [1, 0, 2, 1, np.inf])
    np.testing.assert_allclose(parts.step_return, [1.0, 10.0, 0.1, 1.0, 0.0])
    adv = credit.get("graphgpo")(batch, norm="mean")
    # A: returns 1 vs 0.1 -> +-0.45; B: 10 vs 0 -> +-5; C alone -> 0; A_E = +-0.5
    np.testing.assert_allclose(adv, [0.95, 5.5, -0.95, -0.5, -5.5], atol=1e-12)
    progress = graphgpo_parts(batch, norm="mean", normalize_distance=True)
    np.testing.assert_allclose(progress.step_return, [10.0, 10.0, 1.0, 10.0, 0.0])  # 10 * 0.1 ** (d' - d + 1)
    only_steps = credit.get("graphgpo")(batch, norm="mean", episode_weight=0.0)
    np.testing.assert_allclose(only_steps, [0.45, 5.0, -0.45, 0.0, -5.0], atol=1e-12)


def test_a_group_without_success_has_no_step_signal_and_groups_do_not_share_goals():
    trajs = [(["A", "B"], [0, 1], True), (["A", "B"], [0, 0], False), (["A", "B"], [0, 0], False)]
    batch = StepBatch.from_records(batch_of(trajs, group_of={0: 0, 1: 1, 2: 1}))
    parts = graphgpo_parts(batch)
    assert np.isinf(parts.dist_next[2:]).all() and (parts.step_return[2:] == 0).all()
    np.testing.assert_array_equal(parts.step_adv, 0.0)


def test_distances_are_breadth_first_from_the_goal():
    # 0 -> 1 -> 2 -> goal 4; 3 -> 0; 5 -> 5 (a loop, no way out)
    dist = distances_to_goal(np.array([0, 1, 2, 3, 5]), np.array([1, 2, 4, 0, 5]), np.array([4]), 6)
    np.testing.assert_array_equal(dist, [3, 2, 1, 4, 0, np.inf])


def test_needs_the_success_column_and_reads_step_penalties():
    records = batch_of(HAND)
    for r in records:
        del r["traj_success"]
    with pytest.raises(KeyError, match="traj_success"):
        credit.get("graphgpo")(StepBatch.from_records(records))
    penalised = StepBatch.from_records([{**r, "step_penalty": 0.5 * (i == 2)} for i, r in enumerate(batch_of(HAND))])
    parts = graphgpo_parts(penalised, norm="mean", episode_stats="step")
    # A's returns 1 vs 0.1 - 0.5: the penalty comes off the step return only
    np.testing.assert_allclose(parts.step_adv[[0, 2]], [0.7, -0.7], atol=1e-12)


# ------------------------------------------------------------ the recipe's code, written out directly
def canonical(obs, thresh, leaders, cache):
    """The recipe's StateCanonicalizer: an observation joins the first leader with ratio >= thresh, leaders in
    the order met; else it leads a cluster of its own."""
    if thresh is None:
        return obs
    if obs not in cache:
        cache[obs] = next((lead for lead in leaders if difflib.SequenceMatcher(None, obs, lead).ratio() >= thresh),
                          None)
        if cache[obs] is None:
            leaders.append(obs)
            cache[obs] = obs
    return cache[obs]


def reference_graphgpo(records, last_obs, gamma, mode, normalize_distance, thresh, step_w, episode_w, no_path):
    """verl-agent recipe/GraphGPO's advantage, as its code computes it (core_graph.py: ComplexGraph.from_data,
    all_to_target_shortest_paths, compute_graph_path_returns, compute_graphgpo_outcome_advantage; gigpo's
    build_step_group, step_norm_reward, episode_norm_reward), in float64. ``records`` come in the recipe's row
    order (by trajectory, then step); ``last_obs[traj]`` is the observation after a failed trajectory's last
    step (the recipe's next_obs there). ``no_path="zero"`` swaps in this project's default for comparison."""
    uids = list(dict.fromkeys(r["group_id"] for r in records))
    rows_of = defaultdict(list)
    for i, r in enumerate(records):
        rows_of[r["traj_id"]].append(i)
    next_obs = {}
    for tid, rows in rows_of.items():
        for pos, i in enumerate(rows):
            if pos + 1 < len(rows):
                next_obs[i] = records[rows[pos + 1]]["state_key"]
            else:
                next_obs[i] = "success" if records[i]["traj_success"] else last_obs[tid]
    step_return = np.zeros(len(records))
    for uid in uids:
        members = [i for i, r in enumerate(records) if r["group_id"] == uid]
        leaders, cache = [], {}  # one StateCanonicalizer per task group
        edges = [(canonical(records[i]["state_key"], thresh, leaders, cache),
                  canonical(next_obs[i], thresh, leaders, cache)) for i in members]  # anchor, then next, per row
        target = canonical("success", thresh, leaders, cache)
        nodes = {u for u, _ in edges} | {v for _, v in edges}
        reverse = defaultdict(list)
        for u, v in edges:
            reverse[v].append(u)
        dist = {n: np.inf for n in nodes}
        dist[target] = 0
        heap = [(0, target)]
        while heap:  # Dijkstra from the goal over reversed edges of weight 1
            d, v = heapq.heappop(heap)
            if d > dist[v]:
                continue
            for u in reverse[v]:
                if d + 1 < dist[u]:
                    dist[u] = d + 1
                    heapq.heappush(heap, (d + 1, u))
        farthest = max(d for d in dist.values() if np.isfinite(d))
        for i, (u, v) in zip(members, edges):
            d_old, d_new = dist[u], dist[v]
            if no_path == "zero" and np.isinf(d_new):
                continue
            d_old, d_new = (farthest + 1 if np.isinf(d) else d for d in (d_old, d_new))
            step_return[i] = 10 * gamma ** ((d_new - d_old + 1) if normalize_distance else d_new)
    penalty = np.array([r.get("step_penalty", 0.0) for r in records])
    step_return -= penalty  # apply_invalid_action_penalty: off the step return and off the step's score

    def normalise(values, groups, lone):
        out = np.zeros(len(values))
        for g in dict.fromkeys(groups):
            idx = [i for i in range(len(values)) if groups[i] == g]
            v = values[idx]
            if len(idx) == 1:
                out[idx] = (v / (1 + EPS) if mode == "mean_std" else v) if lone == "unit" else 0.0
            elif np.ptp(v) > 0:  # all equal: 0 here; the released float32 code gives float noise / eps
                centred = v - v.mean()
                out[idx] = centred / (v.std(ddof=1) + EPS) if mode == "mean_std" else centred
        return out

    step_adv = normalise(step_return, [(r["group_id"], r["state_key"]) for r in records], "zero")
    totals = defaultdict(float)
    for r in records:
        totals[r["traj_id"]] += r["reward"]
    scores = np.array([totals[r["traj_id"]] for r in records]) - penalty  # every step sample carries R(tau)
    episode_adv = normalise(scores, [r["group_id"] for r in records], "unit")
    return step_w * step_adv + (episode_w * episode_adv if episode_w != 0 else 0.0)


ROOMS = list("abcdef")
SIMILAR_ROOMS = ["kitchen", "kitchens", "hall", "halls", "garden", "cellar"]


def random_records(rng, similar):
    """Rows in the recipe's order, the observation after each failed trajectory (unlike any state), and the
    rows shuffled (this project takes them in any order)."""
    rooms = SIMILAR_ROOMS if similar else ROOMS
    records, last_obs, tid = [], {}, 0
    for gid in range(int(rng.integers(1, 4))):
        for _ in range(int(rng.integers(1, 7))):
            length = int(rng.integers(1, 7))
            states = [str(s) for s in rng.choice(rooms, size=length, p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.1])]
            success = bool(rng.random() < 0.4)
            rewards = [0.0] * (length - 1) + [1.0 if success else float(rng.choice([0.0, 0.0, -0.1]))]
            for t, (s, r) in enumerate(zip(states, rewards)):
                records.append(dict(group_id=gid, traj_id=tid, t=t, reward=r, state_key=s, traj_success=success,
                                    step_penalty=0.1 * float(rng.random() < 0.2)))
            last_obs[tid] = "".join(rng.choice(list("0123456789QWXYZ#@"), size=12))
            tid += 1
    shuffled = [records[i] for i in rng.permutation(len(records))]
    return records, last_obs, shuffled


@pytest.mark.parametrize("no_path", ["beyond_farthest", "zero"])
@pytest.mark.parametrize("mode", ["mean_std", "mean"])
@pytest.mark.parametrize("normalize_distance", [False, True])
@pytest.mark.parametrize("thresh", [None, 0.8])
def test_matches_the_recipe_code_on_200_random_batches(no_path, mode, normalize_distance, thresh):
    rng = np.random.default_rng([int(normalize_distance), 0 if thresh is None else 1, len(mode), len(no_path)])
    for _ in range(200):
        records, last_obs, shuffled = random_records(rng, similar=thresh is not None)
        step_w, episode_w = (1.0, 1.0) if rng.random() < 0.5 else (float(rng.uniform(0, 2)), float(rng.uniform(0, 2)))
        expected = reference_graphgpo(records, last_obs, 0.1, mode, normalize_distance, thresh, step_w, episode_w,
                                      no_path)
        got = credit.get("graphgpo")(StepBatch.from_records(shuffled), norm=mode, normalize_distance=normalize_distance,
                                     similarity_thresh=thresh, episode_stats="step", step_weight=step_w,
                                     episode_weight=episode_w, no_path=no_path)
        position = {id(r): k for k, r in enumerate(shuffled)}
        np.testing.assert_allclose(got[[position[id(r)] for r in records]], expected, rtol=1e-9, atol=1e-9)


def test_beyond_farthest_by_hand():
    # HAND: distances A 2, B 1, C 2, success 0; traj 1's last step leads nowhere: one beyond the farthest, 3
    batch = StepBatch.from_records(batch_of(HAND))
    parts = graphgpo_parts(batch, norm="mean", no_path="beyond_farthest")
    np.testing.assert_allclose(parts.step_return, [1.0, 10.0, 0.1, 1.0, 0.01])
    progress = graphgpo_parts(batch, norm="mean", normalize_distance=True, no_path="beyond_farthest")
    np.testing.assert_allclose(progress.step_return, [10.0, 10.0, 1.0, 10.0, 0.01])  # B (1) -> nowhere (3): 0.1^3
    # a group without success: every node is one beyond the goal's 0, R = 10 * 0.1 everywhere, A_S = 0
    lost = StepBatch.from_records(batch_of([(["A", "B"], [0, 0], False), (["A", "C"], [0, 0], False)]))
    parts = graphgpo_parts(lost, no_path="beyond_farthest")
    np.testing.assert_allclose(parts.step_return, 1.0)
    np.testing.assert_array_equal(parts.step_adv, 0.0)
    with pytest.raises(ValueError, match="no_path"):
        graphgpo_parts(batch, no_path="infinite")


def test_similarity_merges_graph_nodes_but_not_step_groups():
    # 'halls' and 'hall' are one node (ratio 0.89): traj 1 reaches the goal's path through it, so its step from
    # 'kitchen' earns 10 * 0.1 ** 1 like traj 0's; but the two first steps start from different exact anchors
    trajs = [(["kitchen", "hall"], [0, 1], True), (["cellar", "halls"], [0, 0], False)]
    batch = StepBatch.from_records(batch_of(trajs))
    parts = graphgpo_parts(batch, norm="mean", similarity_thresh=0.8)
    np.testing.assert_allclose(parts.step_return, [1.0, 10.0, 1.0, 0.0])
    np.testing.assert_array_equal(parts.step_adv, 0.0)  # every exact anchor is alone in its step group


def test_composes_with_the_invalid_action_shaper_and_empg():
    from rewards.invalid_action import invalid_action_penalty

    records = [{**r, "format_valid": i != 0, "entropy": 0.1 * (i + 1)} for i, r in enumerate(batch_of(HAND))]
    batch = invalid_action_penalty(StepBatch.from_records(records), penalty=0.1)
    adv = credit.get("graphgpo")(batch, norm="mean")
    np.testing.assert_allclose(adv[1], 0.45 + 5.0, atol=1e-12)  # traj 0 returns 0.9 vs 0: A_E 0.45
    modified = credit.get_modifier("empg")(batch, adv)
    assert modified.shape == adv.shape and np.isfinite(modified).all() and not np.allclose(modified, adv)
