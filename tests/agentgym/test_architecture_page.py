"""docs/architecture.md's code runs: every python block is executed (the feature package's own block is
installed and trained with in tests/agentgym/train/features/test_feature_guide.py), and the BatchSource
block lists the protocol's methods as the code declares them."""

from pathlib import Path

import numpy as np

from agentgym.core.types import StepBatch
from agentgym.train.batch_source import BatchSource

PAGE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def _python_blocks() -> list[str]:
    return [block.split("```", 1)[0] for block in PAGE.read_text().split("```python\n")[1:]]


def _batch() -> StepBatch:
    """Two groups of two one- and two-step trajectories, with entropies (EMPG reads them)."""
    rows = [(0, 0, 0, 1.0), (0, 1, 0, 0.0), (0, 1, 1, 0.0), (1, 2, 0, 0.0), (1, 3, 0, 1.0)]
    return StepBatch.from_records([dict(group_id=g, traj_id=i, t=t, reward=r, state_key=f"s{t}",
                                        entropy=0.5 + 0.1 * k) for k, (g, i, t, r) in enumerate(rows)])


def test_every_python_block_of_the_page_runs():
    blocks = _python_blocks()
    assert len(blocks) >= 4
    for block in blocks:
        if block.lstrip().startswith("class BatchSource(Protocol)"):
            names = [line.split("def ", 1)[1].split("(")[0] for line in block.splitlines() if "def " in line]
            assert names == [n for n in ("next", "publish", "task_rng_state", "close") if hasattr(BatchSource, n)]
            continue
        namespace = {"batch": _batch(), "params": {}}
        exec(compile(block, str(PAGE), "exec"), namespace)  # noqa: S102 - the page's own examples
        if "adv" in namespace:
            assert np.isfinite(namespace["adv"]).all() and len(namespace["adv"]) == len(namespace["batch"])
        if "config" in namespace:
            assert namespace["config"].features["critic"].enabled and namespace["config"].features["epo"].coef == 0.001
