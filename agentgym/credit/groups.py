"""Vectorised building blocks shared by the estimators: group statistics and backward scans.

Rows of a ``StepBatch`` may come in any order, so everything here works from an explicit sort
(``TrajectoryLayout``) and from integer group codes; no estimator loops over groups in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agentgym.core.types import StepBatch
from agentgym.credit.penalty import require_step_stats, step_penalty

NORMS = ("mean_std", "mean")


def check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(repr(a) for a in allowed)}")


def factorize(values: np.ndarray) -> np.ndarray:
    """Integer codes, equal exactly for equal values, for an object array of hashable values.

    Hashing every value once and sorting the 64-bit hashes beats a dict of strings; one elementwise
    equality pass against each hash's first value then proves that no two different values share a
    hash (if any do, which is astronomically rare for strings, a dict does the exact job instead).
    """
    hashes = np.fromiter(map(hash, values), dtype=np.int64, count=len(values))
    _, first, codes = np.unique(hashes, return_index=True, return_inverse=True)
    codes = codes.reshape(-1)
    if len(values) == 0 or bool(np.all(values == values[first][codes])):
        return codes
    lookup: dict[object, int] = {}
    return np.fromiter((lookup.setdefault(v, len(lookup)) for v in values), dtype=np.int64, count=len(values))


def normalise_in_groups(values: np.ndarray, groups: np.ndarray, norm: str, eps: float,
                        singleton: str, ddof: int = 1) -> np.ndarray:
    """(v - mean_g) / (std_g + eps) per group code, Bessel std; ``norm="mean"`` drops the std.

    ``ddof=0`` takes the population std instead (HGPO's reference code does).

    ``singleton`` says what a group of one gets: ``"unit"`` normalises with mean 0 and std 1 (the
    episode level, as verl), ``"zero"`` gives 0 (the step level: nothing to compare with).
    """
    check_choice("norm", norm, NORMS)
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return np.zeros(0)
    counts = np.bincount(groups)
    mean = np.bincount(groups, weights=values) / np.maximum(counts, 1)
    low, high = np.full(len(counts), np.inf), np.full(len(counts), -np.inf)
    np.minimum.at(low, groups, values)
    np.maximum.at(high, groups, values)
    # a group of equal values is exactly 0, not float noise from the mean divided by std + eps; so is a value
    # equal to its group's mean up to the summation's rounding (n ulps of the group's largest magnitude), which
    # otherwise came out 0 or +-1e-17 depending on the row order (and HGPO counts only nonzero votes)
    centred = np.where((low == high)[groups], 0.0, values - mean[groups])
    scale = np.maximum(np.abs(low), np.abs(high)) * counts * (8 * np.finfo(np.float64).eps)  # (n_groups,)
    centred = np.where(np.abs(centred) <= scale[groups], 0.0, centred)
    if norm == "mean_std":
        square_sum = np.bincount(groups, weights=centred * centred, minlength=len(counts))
        std = np.sqrt(square_sum / np.maximum(counts - ddof, 1))
        scaled = centred / (std[groups] + eps)
    else:
        scaled = centred
    alone = counts[groups] == 1
    if singleton == "unit":
        raw = values / (1.0 + eps) if norm == "mean_std" else values
        return np.where(alone, raw, scaled)
    if singleton == "zero":
        return np.where(alone, 0.0, scaled)
    raise ValueError(f"singleton={singleton!r} is not 'unit' or 'zero'")


def _sort_by_trajectory_then_t(traj_id: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Row order by (traj_id, t). Integer ids sort as one packed int64 key (about 2x faster than
    ``np.lexsort`` at 1M rows); other id types, or ranges too wide to pack, fall back to lexsort."""
    traj_id, t = np.asarray(traj_id), np.asarray(t)
    if len(t) and traj_id.dtype.kind in "iu" and t.dtype.kind in "iu":
        traj_low, t_low = int(traj_id.min()), int(t.min())
        traj_span, t_span = int(traj_id.max()) - traj_low + 1, int(t.max()) - t_low + 1
        if traj_span * t_span < 2**62:
            return np.argsort((traj_id.astype(np.int64) - traj_low) * t_span + (t.astype(np.int64) - t_low))
    return np.lexsort((t, traj_id))


@dataclass(frozen=True)
class TrajectoryLayout:
    """Rows sorted by (traj_id, t), with each row's trajectory and its distance to the trajectory's end.

    ``order[i]`` is the batch row at sorted position i. ``traj`` holds trajectory codes 0..n_traj-1
    (sorted position space), ``traj_group`` the group code of each trajectory.
    """

    order: np.ndarray  # (n,) batch row of each sorted position
    traj: np.ndarray  # (n,) trajectory code per sorted position
    traj_of_row: np.ndarray  # (n,) trajectory code per batch row
    to_end: np.ndarray  # (n,) steps left after this one in its trajectory (0 = last step)
    traj_group: np.ndarray  # (n_traj,) group code of each trajectory
    group_of_row: np.ndarray  # (n,) group code per batch row
    n_groups: int

    @classmethod
    def of(cls, batch: StepBatch) -> TrajectoryLayout:
        order = _sort_by_trajectory_then_t(batch.traj_id, batch.t)
        traj_sorted, t_sorted = batch.traj_id[order], batch.t[order]
        new_traj = np.ones(len(order), dtype=bool)
        new_traj[1:] = traj_sorted[1:] != traj_sorted[:-1]
        repeated = ~new_traj & (np.diff(t_sorted, prepend=-1) == 0)
        if repeated.any():
            i = order[np.flatnonzero(repeated)[0]]
            raise ValueError(f"step (traj_id={batch.traj_id[i]}, t={batch.t[i]}) appears twice; compute credit "
                             "before duplicating or padding the batch")
        traj = np.cumsum(new_traj) - 1
        starts = np.flatnonzero(new_traj)
        last = np.append(starts[1:], len(order))[: len(starts)] - 1  # (n_traj,) sorted end index
        to_end = last[traj] - np.arange(len(order))
        group_codes, group_of_row = np.unique(batch.group_id, return_inverse=True)
        traj_group = np.zeros(len(last), dtype=np.int64)
        traj_group[traj] = group_of_row[order]
        if len(order) and np.any(traj_group[traj] != group_of_row[order]):
            raise ValueError("a trajectory's steps carry different group_id values")
        traj_of_row = np.empty_like(traj)
        traj_of_row[order] = traj
        return cls(order, traj, traj_of_row, to_end, traj_group, group_of_row.reshape(-1), len(group_codes))

    @property
    def n_traj(self) -> int:
        return len(self.traj_group)

    def backward_scan(self, values: np.ndarray, factor: float) -> np.ndarray:
        """y_t = x_t + factor * y_{t+1} within each trajectory, y after the last step = 0; batch row order.

        Works level by level from the trajectories' ends: one vectorised update per distance to the
        end, so the Python loop runs max-trajectory-length times, never once per row.
        """
        x = np.asarray(values, dtype=np.float64)[self.order]
        y = x.copy()
        by_level = np.argsort(self.to_end, kind="stable")
        bounds = np.cumsum(np.bincount(self.to_end))
        for start, stop in zip(bounds[:-1], bounds[1:]):
            rows = by_level[start:stop]
            y[rows] = x[rows] + factor * y[rows + 1]
        out = np.empty_like(y)
        out[self.order] = y
        return out

    def trajectory_sums(self, values: np.ndarray) -> np.ndarray:
        """Sum of ``values`` over each trajectory, shape (n_traj,)."""
        return np.bincount(self.traj_of_row, weights=values, minlength=self.n_traj)


EPISODE_STATS = ("trajectory", "step")


def episode_scores(batch: StepBatch, layout: TrajectoryLayout, episode_stats: str, estimator: str
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(scores, group codes) of the samples the group statistics run over.

    Trajectory statistics: one score R(tau) per trajectory, shape (n_traj,). Step statistics: one score
    R(tau) - p_i per batch row, shape (n,).
    """
    check_choice("episode_stats", episode_stats, EPISODE_STATS)
    require_step_stats(batch, episode_stats, estimator)
    returns = layout.trajectory_sums(batch.reward)  # (n_traj,)
    if episode_stats == "trajectory":
        return returns, layout.traj_group
    return returns[layout.traj_of_row] - step_penalty(batch), layout.group_of_row


def per_row(values: np.ndarray, layout: TrajectoryLayout, episode_stats: str) -> np.ndarray:
    """Scores' advantages as one value per batch row."""
    return values[layout.traj_of_row] if episode_stats == "trajectory" else values
