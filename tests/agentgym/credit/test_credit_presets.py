"""Presets that carry a paper's recipe keep its reward: LOOP's has no invalid-action penalty (issue 43)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("preset", sorted(p.name for p in (ROOT / "configs").glob("*_loop.yaml")))
def test_loop_presets_pay_the_task_reward_alone(preset):
    from agentgym.train.config import TrainConfig, parse_args

    assert TrainConfig().shapers == ["invalid_action"]  # the default every other preset inherits
    config = parse_args(["--config", str(ROOT / "configs" / preset)])
    assert config.shapers == []
