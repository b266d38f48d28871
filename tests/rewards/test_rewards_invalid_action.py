import numpy as np
import pytest

import rewards  # noqa: F401 - registers the shapers
from agentgym import StepBatch, credit


def _batch():
    rows = [
        {"group_id": 0, "traj_id": 0, "t": 0, "reward": 0.0, "state_key": "a", "format_valid": True, "action_valid": True},
        {"group_id": 0, "traj_id": 0, "t": 1, "reward": 1.0, "state_key": "b", "format_valid": False, "action_valid": False},
        {"group_id": 0, "traj_id": 1, "t": 0, "reward": 0.0, "state_key": "a", "format_valid": True, "action_valid": False},
    ]
    return StepBatch.from_records(rows)


def test_format_penalty_hits_only_unparsable_responses():
    shaped = credit.get_shaper("invalid_action")(_batch())
    np.testing.assert_allclose(shaped.reward, [0.0, 0.9, 0.0])


def test_any_penalty_also_hits_refused_actions():
    shaped = credit.get_shaper("invalid_action")(_batch(), penalty=0.5, on="any")
    np.testing.assert_allclose(shaped.reward, [0.0, 0.5, -0.5])


def test_unknown_mode_is_an_error():
    with pytest.raises(ValueError):
        credit.get_shaper("invalid_action")(_batch(), on="sometimes")
