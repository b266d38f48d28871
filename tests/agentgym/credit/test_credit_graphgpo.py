"""GraphGPO: a hand-worked graph, and agreement with a direct transcription of the recipe's algorithm (dict
graph, reverse Dijkstra with a heap from 'success', per-anchor loops, verl-agent's episode statistics) on
200 random batches per setting."""

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


# ------------------------------------------------------------ the recipe's algorithm, written out directly
def reference_graphgpo(records, gamma, mode, normalize_distance, thresh, step_w, episode_w):
    by_group = defaultdict(lambda: defaultdict(list))
    for i, r in enumerate(records):
        by_group[r["group_id"]][r["traj_id"]].append((r["t"], i))
    step_return, node_of = np.zeros(len(records)), {}
    for trajs in by_group.values():
        for steps in trajs.values():
            steps.sort()
        leaders, name = [], {}  # similarity: a key joins the first leader with ratio >= thresh (rollout order)
        for tid in sorted(trajs):
            for _, i in trajs[tid]:
                key = records[i]["state_key"]
                if key in name:
                    continue
                match = next((lead for lead in leaders if thresh is not None
                              and difflib.SequenceMatcher(None, lead, key).ratio() >= thresh), None)
                if match is None:
                    leaders.append(key)
                name[key] = match or key
        reverse = defaultdict(set)  # next node -> nodes with an edge into it
        nxt = {}
        for tid, steps in trajs.items():
            for pos, (_, i) in enumerate(steps):
                here = name[records[i]["state_key"]]
                if pos + 1 < len(steps):
                    there = name[records[steps[pos + 1][1]]["state_key"]]
                else:
                    there = "success" if records[i]["traj_success"] else ("dead", tid)
                node_of[i], nxt[i] = here, there
                reverse[there].add(here)
        dist, heap = {"success": 0}, [(0, "success")]
        while heap:  # Dijkstra on the reversed graph, unit weights
            d, v = heapq.heappop(heap)
            if d > dist.get(v, np.inf):
                continue
            for u in reverse[v]:
                if d + 1 < dist.get(u, np.inf):
                    dist[u] = d + 1
                    heapq.heappush(heap, (d + 1, u))
        for i in nxt:
            d_next, d_here = dist.get(nxt[i], np.inf), dist.get(node_of[i], np.inf)
            if np.isinf(d_next):
                step_return[i] = 0.0
            else:
                step_return[i] = 10 * gamma ** ((d_next - d_here + 1) if normalize_distance else d_next)
    step_adv = np.zeros(len(records))
    anchors = defaultdict(list)
    for i, r in enumerate(records):
        anchors[(r["group_id"], node_of[i])].append(i)
    for members in anchors.values():
        values = step_return[members]
        if len(members) == 1 or np.ptp(values) == 0:
            continue
        centred = values - values.mean()
        step_adv[members] = centred / (values.std(ddof=1) + EPS) if mode == "mean_std" else centred
    # verl-agent's episode term: every step sample carries R(tau); a group of one sample: mean 0, std 1
    totals = defaultdict(float)
    for r in records:
        totals[r["traj_id"]] += r["reward"]
    episode_adv = np.zeros(len(records))
    samples = defaultdict(list)
    for i, r in enumerate(records):
        samples[r["group_id"]].append(i)
    for members in samples.values():
        scores = np.array([totals[records[i]["traj_id"]] for i in members])
        if len(members) == 1:
            episode_adv[members] = scores / (1 + EPS) if mode == "mean_std" else scores
        elif np.ptp(scores) > 0:
            centred = scores - scores.mean()
            episode_adv[members] = centred / (scores.std(ddof=1) + EPS) if mode == "mean_std" else centred
    return episode_w * episode_adv + step_w * step_adv


def random_records(rng, similar):
    rooms = ["kitchen", "kitchens", "hall", "halls", "garden", "cellar"] if similar else list("abcdef")
    records, tid = [], 0
    for gid in range(int(rng.integers(1, 4))):
        for _ in range(int(rng.integers(1, 7))):
            length = int(rng.integers(1, 7))
            states = [str(s) for s in rng.choice(rooms, size=length, p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.1])]
            success = bool(rng.random() < 0.4)
            rewards = [0.0] * (length - 1) + [1.0 if success else float(rng.choice([0.0, 0.0, -0.1]))]
            for t, (s, r) in enumerate(zip(states, rewards)):
                records.append(dict(group_id=gid, traj_id=tid, t=t, reward=r, state_key=s, traj_success=success))
            tid += 1
    return [records[i] for i in rng.permutation(len(records))]  # rows in any order


@pytest.mark.parametrize("mode", ["mean_std", "mean"])
@pytest.mark.parametrize("normalize_distance", [False, True])
@pytest.mark.parametrize("thresh", [None, 0.8])
def test_matches_the_recipe_transcription_on_200_random_batches(mode, normalize_distance, thresh):
    rng = np.random.default_rng([int(normalize_distance), 0 if thresh is None else 1, len(mode)])
    for _ in range(200):
        records = random_records(rng, similar=thresh is not None)
        step_w, episode_w = (1.0, 1.0) if rng.random() < 0.5 else (float(rng.uniform(0, 2)), float(rng.uniform(0, 2)))
        expected = reference_graphgpo(records, 0.1, mode, normalize_distance, thresh, step_w, episode_w)
        got = credit.get("graphgpo")(StepBatch.from_records(records), norm=mode, normalize_distance=normalize_distance,
                                     similarity_thresh=thresh, episode_stats="step", step_weight=step_w,
                                     episode_weight=episode_w)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_composes_with_the_invalid_action_shaper_and_empg():
    from rewards.invalid_action import invalid_action_penalty

    records = [{**r, "format_valid": i != 0, "entropy": 0.1 * (i + 1)} for i, r in enumerate(batch_of(HAND))]
    batch = invalid_action_penalty(StepBatch.from_records(records), penalty=0.1)
    adv = credit.get("graphgpo")(batch, norm="mean")
    np.testing.assert_allclose(adv[1], 0.45 + 5.0, atol=1e-12)  # traj 0 returns 0.9 vs 0: A_E 0.45
    modified = credit.get_modifier("empg")(batch, adv)
    assert modified.shape == adv.shape and np.isfinite(modified).all() and not np.allclose(modified, adv)
