"""Trainer rescoring: the trained model's own log-probs and entropies for steps an engine sampled.

An engine's numbers are not the trainer's: a vLLM kernel, another dtype, top-k entropies, or
weights one update old. Whenever the generation engine is not the trained model itself, every step's
response is scored again, teacher-forced, by the trained model before credit assignment: its
log-probs become the PPO "old" log-probs and its full-distribution entropies replace the engine's
(EMPG and the entropy diagnostics always see the trainer's). The engine's log-probs are kept as
``Step.rollout_logprobs`` for the truncated importance-sampling correction (``tis_cap``), and their
gap to the trainer's is reported as ``rollout/logprob_abs_diff``.
"""

from __future__ import annotations

import numpy as np
import torch

from agentgym.core.types import Step


def rescore_steps(policy, steps: list[Step], micro_batch_size: int) -> dict[str, float]:
    """Rescore ``steps`` in place (no gradients); returns the engine-versus-trainer metrics.

    Steps are scored in micro-batches of similar lengths (less padding); each keeps its own results.
    """
    rows = sorted((s for s in steps if s.response_ids), key=lambda s: len(s.prompt_ids) + len(s.response_ids))
    gaps: list[np.ndarray] = []
    with torch.no_grad():
        for start in range(0, len(rows), micro_batch_size):
            chunk = rows[start:start + micro_batch_size]
            logprobs, entropies, mask = policy.score([s.prompt_ids for s in chunk], [s.response_ids for s in chunk],
                                                     with_entropy=True)
            lengths = mask.sum(dim=1).long().tolist()
            for step, lp_row, ent_row, n in zip(chunk, logprobs.cpu(), entropies.cpu(), lengths):
                trainer = lp_row[:n].tolist()
                if len(step.logprobs) == n:  # an engine that reported log-probs for every token
                    gaps.append(np.abs(np.asarray(trainer) - np.asarray(step.logprobs)))
                    step.rollout_logprobs = list(step.logprobs)
                step.logprobs, step.entropies = trainer, ent_row[:n].tolist()
    gap = np.concatenate(gaps) if gaps else np.zeros(0)
    return {"rollout/rescored_steps": float(len(rows)),
            "rollout/logprob_abs_diff": float(gap.mean()) if len(gap) else float("nan"),
            "rollout/logprob_abs_diff_max": float(gap.max()) if len(gap) else float("nan")}
