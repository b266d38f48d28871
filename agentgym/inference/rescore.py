"""Trainer rescoring: the trained model's own log-probs and entropies for steps an engine sampled.

An engine's numbers are not the trainer's: a vLLM kernel, another dtype, top-k entropies, or
weights one update old. Whenever the generation engine is not the trained model itself, every step's
response is scored again, teacher-forced, by the trained model before credit assignment: its
log-probs become the PPO "old" log-probs and its full-distribution entropies replace the engine's
(EMPG and the entropy diagnostics always see the trainer's). The engine's log-probs are kept as
``Step.rollout_logprobs`` for the truncated importance-sampling correction (``tis_cap``), and their
gap to the trainer's is reported as ``rollout/logprob_abs_diff``.

When the update is one optimizer step over the whole batch, the pass is redundant: the update's own
first forward runs on the same weights, so its detached log-probs are the old ones (``defer_to_update``;
TRL's GRPO skips it the same way). The gap is then reported by the update.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from agentgym.core.types import Step
from agentgym.inference.distinct_pairs import score_distinct_no_grad


def rescore_steps(policy, steps: list[Step], micro_batch_size: int) -> dict[str, float]:
    """Rescore ``steps`` in place (no gradients); returns the engine-versus-trainer metrics.

    Each distinct (prompt, response) pair is scored once (``distinct_pairs``), in micro-batches of similar lengths
    (less padding); every step gets its own copy of its pair's results.
    """
    rows = [s for s in steps if s.response_ids]
    logprobs, entropies = score_distinct_no_grad(policy, rows, micro_batch_size, with_entropy=True)
    pairs: list[tuple[list[float], list[float]]] = []
    for step, trainer, entropies_row in zip(rows, logprobs, entropies):
        if len(step.logprobs) == len(trainer):  # an engine that reported log-probs for every token
            step.rollout_logprobs = list(step.logprobs)
            pairs.append((trainer, step.rollout_logprobs))
        step.logprobs, step.entropies = trainer, entropies_row
    return {"rollout/rescored_steps": float(len(rows)), **logprob_gap_metrics(pairs)}


def defer_to_update(steps: list[Step]) -> dict[str, float]:
    """Leave the trainer's log-probs to the update's first forward: each step's engine log-probs move to
    ``rollout_logprobs`` (for ``tis_cap`` and the gap) and ``logprobs`` empties, which tells the update
    to take them from its own forward. Entropies stay the engine's (vLLM: a top-k lower bound)."""
    for step in steps:
        if step.response_ids:
            full = len(step.logprobs) == len(step.response_ids)  # an engine that reported every token's
            step.rollout_logprobs = list(step.logprobs) if full else None
            step.logprobs = []
    return {"rollout/rescored_steps": 0.0}


def logprob_gaps(pairs: Iterable[tuple[list[float], list[float] | None]]) -> np.ndarray:
    """|trainer - engine| log-prob of every token of the (trainer, engine) pairs whose engine reported them all."""
    gaps = [np.abs(np.asarray(trainer) - np.asarray(engine)) for trainer, engine in pairs
            if engine is not None and len(engine) == len(trainer)]
    return np.concatenate(gaps) if gaps else np.zeros(0)


def logprob_gap_metrics(pairs: Iterable[tuple[list[float], list[float] | None]]) -> dict[str, float]:
    """Mean and largest of ``logprob_gaps``; NaN when no engine reported log-probs."""
    gap = logprob_gaps(pairs)
    return {"rollout/logprob_abs_diff": float(gap.mean()) if len(gap) else float("nan"),
            "rollout/logprob_abs_diff_max": float(gap.max()) if len(gap) else float("nan")}
