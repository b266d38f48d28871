"""GraphGPO (arXiv 2605.26684, verl-agent ``recipe/GraphGPO``): step returns from a state-transition graph.

The rollouts of one task group form one directed graph: a node per anchor state (``state_key``, or a
cluster of similar keys with ``similarity_thresh``), an edge from each step's state to the state after it
(the next step's state; after a trajectory's last step, a ``success`` node of the group if the trajectory
succeeded, else a dead end of its own). Breadth-first search backwards from ``success`` gives every node its
shortest distance d to the goal over the whole group's experience, so a step in a failed trajectory that
moved onto a path some other rollout took to the goal still gets credit. Then

    R_t = 10 * gamma ** d(s_{t+1})                     (``normalize_distance=False``, the recipe's default)
    R_t = 10 * gamma ** (d(s_{t+1}) - d(s_t) + 1)      (``normalize_distance=True``: progress, not proximity)

with gamma = 0.1. Where s_{t+1} cannot reach the goal, R_t = 0 (``no_path="zero"``), or, as the recipe's code
does (``no_path="beyond_farthest"``), every node without a path counts as one step beyond the farthest node
that has one in its group's graph. A_S normalises R_t - p_t among the steps of the group with exactly the
same anchor state (GiGPO's step groups; a group of one gets 0; ``similarity_thresh`` merges graph nodes
only, as in the recipe), A_E is GiGPO's episode term, and A = episode_weight * A_E + step_weight * A_S.

Success is read from the ``traj_success`` column the trainer adds (``Trajectory.success``). Departures from
the recipe are listed in docs/credit.md ("GraphGPO").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agentgym.core.types import StepBatch
from agentgym.credit.anchors import step_groups
from agentgym.credit.groups import (
    NORMS,
    TrajectoryLayout,
    check_choice,
    episode_scores,
    normalise_in_groups,
    per_row,
)
from agentgym.credit.penalty import reads_step_penalty, step_penalty
from agentgym.credit.registry import DIAGNOSTICS, ESTIMATORS

SUCCESS_COLUMN = "traj_success"
GOAL_RETURN = 10.0  # the recipe's scale: the step onto the goal earns 10
NO_PATH = ("zero", "beyond_farthest")


@dataclass(frozen=True)
class GraphParts:
    """Per batch row: distances of the step's state and of the state after it (inf: no path to the goal),
    the graph step return, A_E and A_S."""

    dist_here: np.ndarray
    dist_next: np.ndarray
    step_return: np.ndarray
    episode_adv: np.ndarray
    step_adv: np.ndarray


def trajectory_success(batch: StepBatch) -> np.ndarray:
    if SUCCESS_COLUMN not in batch.extras:
        raise KeyError(f"graphgpo needs batch.extras[{SUCCESS_COLUMN!r}] (whether each step's trajectory reached "
                       "the goal; the trainer adds it from Trajectory.success): the graph's goal node is reached "
                       f"only by successful trajectories (extras present: {sorted(batch.extras) or 'none'})")
    return np.asarray(batch.extras[SUCCESS_COLUMN], dtype=bool)


def distances_to_goal(node: np.ndarray, next_node: np.ndarray, goal: np.ndarray, n_nodes: int) -> np.ndarray:
    """Shortest number of edges from every node to a goal node, shape (n_nodes,); inf where none is reachable.

    ``node[i] -> next_node[i]`` are the edges (unit length). One breadth-first search backwards from all goal
    nodes at once (the groups' graphs share no node), one vectorised pass over the edges per distance level.
    """
    dist = np.full(n_nodes, np.inf)
    dist[goal] = 0.0
    level = 0
    while True:
        grow = (dist[next_node] == level) & np.isinf(dist[node])
        if not grow.any():
            return dist
        dist[node[grow]] = level + 1
        level += 1


def graphgpo_parts(batch: StepBatch, gamma: float = 0.1, norm: str = "mean_std", eps: float = 1e-6,
                   episode_stats: str = "trajectory", similarity_thresh: float | None = None,
                   similarity_order: str = "rollout", normalize_distance: bool = False,
                   no_path: str = "zero") -> GraphParts:
    check_choice("norm", norm, NORMS)
    check_choice("no_path", no_path, NO_PATH)
    if not 0.0 < gamma <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    layout = TrajectoryLayout.of(batch)
    success = trajectory_success(batch)
    n = len(batch)
    state = step_groups(batch, layout, similarity_thresh, similarity_order)  # (n,) graph node of each row
    anchor = state if similarity_thresh is None else step_groups(batch, layout)  # exact anchors for A_S
    n_states = int(state.max(initial=-1)) + 1
    goal = n_states + np.arange(layout.n_groups)  # one success node per episode group
    dead = n_states + layout.n_groups + np.arange(n)  # a dead end per row (used by last steps that failed)
    order = layout.order
    nxt_sorted = np.empty(n, dtype=np.int64)
    last = layout.to_end == 0  # (n,) sorted positions
    nxt_sorted[~last] = state[order][np.flatnonzero(~last) + 1]
    rows_last = order[last]
    nxt_sorted[last] = np.where(success[rows_last], goal[layout.group_of_row[rows_last]], dead[rows_last])
    next_node = np.empty(n, dtype=np.int64)
    next_node[order] = nxt_sorted
    dist = distances_to_goal(state, next_node, goal, n_states + layout.n_groups + n)
    here, there = dist[state], dist[next_node]
    reachable = np.isfinite(there)  # then the step's own state is too (it has an edge onto that path)
    if no_path == "beyond_farthest":
        node_group = np.empty(len(dist), dtype=np.int64)
        node_group[state] = layout.group_of_row
        node_group[goal] = np.arange(layout.n_groups)
        node_group[dead] = layout.group_of_row
        farthest = np.zeros(layout.n_groups)  # the goal itself is at 0 even in a group without success
        finite = np.isfinite(dist)
        np.maximum.at(farthest, node_group[finite], dist[finite])
        filled = np.where(finite, dist, farthest[node_group] + 1.0)
        d_here, d_next = filled[state], filled[next_node]
        exponent = d_next - (d_here - 1.0 if normalize_distance else 0.0)
        step_return = GOAL_RETURN * gamma ** exponent
    else:
        exponent = np.zeros(n)
        exponent[reachable] = there[reachable] - (here[reachable] - 1.0 if normalize_distance else 0.0)
        step_return = np.where(reachable, GOAL_RETURN * gamma ** exponent, 0.0)
    step_adv = normalise_in_groups(step_return - step_penalty(batch), anchor, norm, eps, "zero")
    scores, groups = episode_scores(batch, layout, episode_stats, "graphgpo")
    episode_adv = per_row(normalise_in_groups(scores, groups, norm, eps, "unit"), layout, episode_stats)
    return GraphParts(here, there, step_return, episode_adv, step_adv)


@ESTIMATORS.register("graphgpo")
@reads_step_penalty
def graphgpo(batch: StepBatch, gamma: float = 0.1, step_weight: float = 1.0, episode_weight: float = 1.0,
             norm: str = "mean_std", eps: float = 1e-6, episode_stats: str = "trajectory",
             similarity_thresh: float | None = None, similarity_order: str = "rollout",
             normalize_distance: bool = False, no_path: str = "zero") -> np.ndarray:
    """episode_weight * A_E + step_weight * A_S per step, shape (len(batch),)."""
    if len(batch) == 0:
        return np.zeros(0)
    parts = graphgpo_parts(batch, gamma, norm, eps, episode_stats, similarity_thresh, similarity_order,
                           normalize_distance, no_path)
    return episode_weight * parts.episode_adv + step_weight * parts.step_adv


@DIAGNOSTICS.register("graphgpo")
def graphgpo_diagnostics(batch: StepBatch, adv: np.ndarray, gamma: float = 0.1, step_weight: float = 1.0,
                         episode_weight: float = 1.0, norm: str = "mean_std", eps: float = 1e-6,
                         episode_stats: str = "trajectory", similarity_thresh: float | None = None,
                         similarity_order: str = "rollout", normalize_distance: bool = False,
                         no_path: str = "zero") -> dict[str, float]:
    """``credit/graph_reachable_frac``: steps whose next state has a path to the goal in the group's graph;
    among failed trajectories' steps (``credit/graph_failed_reachable_frac``) that is the credit GRPO cannot
    see; ``credit/graph_step_adv_abs_mean``: mean |step_weight * A_S|."""
    if len(batch) == 0:
        return {}
    parts = graphgpo_parts(batch, gamma, norm, eps, episode_stats, similarity_thresh, similarity_order,
                           normalize_distance, no_path)
    reachable = np.isfinite(parts.dist_next)
    failed = ~trajectory_success(batch)
    return {"credit/graph_reachable_frac": float(reachable.mean()),
            "credit/graph_failed_reachable_frac": float(reachable[failed].mean()) if failed.any() else 0.0,
            "credit/graph_step_adv_abs_mean": float(np.mean(np.abs(step_weight * parts.step_adv)))}
