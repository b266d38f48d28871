"""docs/new_environment.md's example must keep working."""

import importlib.util
from pathlib import Path

import agentgym

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "guess_number.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("guess_number_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_environment_passes_check_env():
    _load_example()
    for split in agentgym.SPLITS:
        agentgym.check_env(agentgym.make("examples/GuessNumber-v0", split=split))


def test_example_hint_narrows_the_range_and_state_key_follows():
    _load_example()
    env = agentgym.make("examples/GuessNumber-v0", split="train")
    _, info = env.reset(options={"task_id": "100-42"})
    assert info["state_key"] == "between 1 and 100" and info["expert_action"] == "guess 50"
    obs, reward, terminated, _, info = env.step("guess 50")
    assert obs == "Go lower. The number is between 1 and 49." and reward == 0.0 and not terminated
    assert info["state_key"] == "between 1 and 49"
    obs, *_ , info = env.step("fifty")
    assert info["action_valid"] is False and "guess N" in obs
