"""ArCHer's advantage (Zhou et al. 2024, arXiv 2402.19446): A = min Q(s, a) - min V(s) of its utterance critic.

The critic, its replay buffer and its TD training live in the ArCHer trainer feature
(``agentgym.train.features.archer.feature``, built by ``credit: archer``), which writes each step's advantage into
``batch.extras["archer_advantage"]`` before credit runs (0 during its critic-only warm-up). This
estimator hands that column to the update, which applies it to every token of the step's response.
"""

from __future__ import annotations

import numpy as np

from agentgym.core.types import StepBatch
from agentgym.credit.registry import ESTIMATORS


@ESTIMATORS.register("archer")
def archer(batch: StepBatch) -> np.ndarray:
    """The ArCHer critic's advantage per step, shape (len(batch),)."""
    if "archer_advantage" not in batch.extras:
        raise KeyError("archer needs the ArCHer feature's batch.extras['archer_advantage'] column: the trainer "
                       "builds that feature with credit: archer (archer_* settings set it up); called on its own, put "
                       f"the advantages there (extras present: {sorted(batch.extras) or 'none'})")
    advantage = np.asarray(batch.extras["archer_advantage"], dtype=np.float64)
    if np.isnan(advantage).any():
        raise ValueError("batch.extras['archer_advantage'] contains NaN")
    return advantage
