"""Anchor-state step groups for GiGPO: steps of one episode group that start from the same state.

Exact mode groups rows with equal (group_id, state_key) in O(n) hashing plus one integer sort.
Similarity mode reproduces verl-agent's greedy clustering (a key joins the first cluster whose first
member has ``difflib.SequenceMatcher`` ratio >= threshold, else opens a new one), but runs it only on
the distinct keys of each episode group, never across groups, so its cost is bounded by
sum_g (distinct keys in g) x (clusters in g), not by the batch size squared.
"""

from __future__ import annotations

import difflib

import numpy as np

from agentgym.core.types import StepBatch
from agentgym.credit.groups import TrajectoryLayout, check_choice, factorize

SIMILARITY_ORDERS = ("rollout", "rows")


def step_groups(batch: StepBatch, layout: TrajectoryLayout, similarity_thresh: float | None = None,
                similarity_order: str = "rollout") -> np.ndarray:
    """Step-group code per batch row, shape (len(batch),), codes 0..n_step_groups-1.

    ``similarity_order`` is the order keys meet the greedy clustering in: ``"rollout"`` (by trajectory,
    then t) or ``"rows"`` (the batch's row order, e.g. after verl-agent's batch balancing).
    """
    check_choice("similarity_order", similarity_order, SIMILARITY_ORDERS)
    key_codes = factorize(batch.state_key)
    pair = layout.group_of_row * (int(key_codes.max(initial=0)) + 1) + key_codes  # (n,) one int per (group, exact key)
    if similarity_thresh is not None:
        if not 0.0 < similarity_thresh < 1.0:
            raise ValueError(f"similarity_thresh must be in (0, 1) or None, got {similarity_thresh}")
        order = layout.order if similarity_order == "rollout" else np.arange(len(batch))
        pair = _merge_similar(batch, layout, pair, similarity_thresh, order)
    _, codes = np.unique(pair, return_inverse=True)
    return codes.reshape(-1)


def _merge_similar(batch: StepBatch, layout: TrajectoryLayout, pair: np.ndarray, thresh: float,
                   order: np.ndarray) -> np.ndarray:
    """Map each (group, exact key) pair onto the pair of its cluster's first member in ``order``."""
    sorted_pairs = pair[order]
    distinct, first_pos = np.unique(sorted_pairs, return_index=True)
    by_appearance = np.argsort(first_pos, kind="stable")
    distinct, first_rows = distinct[by_appearance], order[first_pos[by_appearance]]
    groups = layout.group_of_row[first_rows]
    by_group = np.argsort(groups, kind="stable")  # keeps first-appearance order inside each group
    bounds = np.flatnonzero(np.diff(groups[by_group], prepend=-1, append=-1))
    representative = distinct.copy()
    for start, stop in zip(bounds[:-1], bounds[1:]):
        members = by_group[start:stop]
        if len(members) < 2:
            continue
        texts = [str(batch.state_key[r]) for r in first_rows[members]]
        for member, leader in zip(members, greedy_clusters(texts, thresh)):
            representative[member] = distinct[members[leader]]
    lookup = dict(zip(distinct.tolist(), representative.tolist()))
    return np.fromiter((lookup[p] for p in pair.tolist()), dtype=np.int64, count=len(pair))


def greedy_clusters(texts: list[str], thresh: float) -> list[int]:
    """Index of each text's cluster leader: the first earlier leader with ratio >= thresh, else itself.

    Cheap upper bounds (length ratio, then ``quick_ratio``) skip most full ``ratio`` computations;
    they never change the result because ratio <= quick_ratio <= the length bound.
    """
    leaders: list[int] = []
    matchers: list[difflib.SequenceMatcher] = []
    assigned = []
    for i, text in enumerate(texts):
        chosen = i
        for leader, matcher in zip(leaders, matchers):
            size = len(text) + len(texts[leader])
            if size and 2.0 * min(len(text), len(texts[leader])) / size < thresh:
                continue
            matcher.set_seq1(text)
            if matcher.quick_ratio() >= thresh and matcher.ratio() >= thresh:
                chosen = leader
                break
        if chosen == i:
            leaders.append(i)
            matchers.append(difflib.SequenceMatcher(None, "", text))
        assigned.append(chosen)
    return assigned
