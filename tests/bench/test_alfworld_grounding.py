"""bench/alfworld_grounding.py counts, by hand, when the task's object was in view and whether it was taken."""

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "alfworld_grounding.py"
SPEC = importlib.util.spec_from_file_location("alfworld_grounding", BENCH)
grounding = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(grounding)


def test_object_in_view_steps_and_takes(tmp_path):
    def step(observation, action, valid=True):
        return {"observation": observation, "action": action, "action_valid": valid}

    first = {"task": "put a knife in countertop.", "success": False, "steps": [
        step("You open the drawer 1. In it, you see a knife 1.", "close drawer 1"),  # in view, not taken
        step("You arrive at drawer 2. On it, you see a fork 1.", "go to drawer 1"),  # not in view
        step("You open the drawer 1. In it, you see a knife 1.", "take knife 1 from drawer 1"),  # in view, taken
        step("You pick up the knife 1. On it, you see a knife 2.", "go to countertop 1"),  # held: not counted
    ]}
    second = {"task": "put some apple on table.", "success": True, "steps": [
        step("On the table 1, you see an apple 1.", "take apple 1 from table 1", valid=False),  # counted, taken
        step("On the table 1, you see an apple 1.", "take apple 1 from table 1"),  # still not held: counted
    ]}
    (tmp_path / "episodes.jsonl").write_text("\n".join(json.dumps(e) for e in (first, second)) + "\n")
    assert grounding.grounding(tmp_path) == {"episodes": 2, "success": 0.5, "object_in_view_steps": 4,
                                             "take_when_in_view": 0.75, "episodes_holding": 1.0}
