"""The mapping between OpenEnv replies and the gymnasium tuple (docs/openenv.md, "The mapping"), by hand."""

import math

import numpy as np
import pytest

pytest.importorskip("openenv")

from agentgym.core.env import INFO_KEYS, OPTIONAL_INFO_KEYS  # noqa: E402
from agentgym.openenv.server_info import is_rejection  # noqa: E402
from agentgym.openenv.wire import action_payload, json_safe, parse_result  # noqa: E402


def test_this_projects_observation_keeps_terminated_and_truncated_apart():
    payload = {"observation": {"text": "cut", "terminated": False, "truncated": True,
                               "info": {"task_id": "t1", "state_key": "s", "success": False}},
               "reward": 0.0, "done": True}
    obs, reward, terminated, truncated, info = parse_result(payload)
    assert (obs, reward, terminated, truncated) == ("cut", 0.0, False, True)
    assert info["task_id"] == "t1" and info["expert_action"] is None  # every contract key, None where missing
    assert set(INFO_KEYS) | set(OPTIONAL_INFO_KEYS) <= set(info)


@pytest.mark.parametrize(("observation", "metadata", "expected"), [
    ({"prompt": "x"}, {}, (True, False)),  # done alone is terminated
    ({"prompt": "x"}, {"truncated": True}, (False, True)),  # unless the server says it was a time limit
    ({"prompt": "x"}, {"TimeLimit.truncated": True}, (False, True)),
    ({"prompt": "x", "time_limit": True}, {}, (False, True)),
    ({"prompt": "x"}, {"truncated": False}, (True, False)),
])
def test_a_foreign_done_is_terminated_unless_a_time_limit_is_flagged(observation, metadata, expected):
    _, _, terminated, truncated, info = parse_result({"observation": observation, "done": True, "reward": None,
                                                      "metadata": metadata})
    assert (terminated, truncated) == expected
    assert {k: info[k] for k in metadata} == metadata  # a foreign server's metadata is its info


def test_not_done_is_neither_whatever_the_flags_say():
    _, reward, terminated, truncated, _ = parse_result({"observation": {"prompt": "x"}, "done": False,
                                                        "metadata": {"truncated": True}})
    assert (reward, terminated, truncated) == (0.0, False, False)  # a None reward reads 0.0


def test_the_observation_text_field_is_named_or_found_or_the_whole_observation():
    observation = {"board": "X.O", "score": 3}
    assert parse_result({"observation": {"prompt": "p", "message": "m"}})[0] == "m"  # TEXT_FIELDS order
    assert parse_result({"observation": observation})[0] == '{"board": "X.O", "score": 3}'
    assert parse_result({"observation": observation}, text_field="board")[0] == "X.O"
    with pytest.raises(KeyError, match="no field 'text'"):
        parse_result({"observation": observation}, text_field="text")


def test_json_safe_is_what_json_carries():
    value = {"n": np.int64(3), "x": np.float32(0.5), "nan": float("nan"), "t": ("a", "b"), "s": {"b", "a"},
             "arr": np.array([1, 2]), "obj": ValueError("bad")}
    safe = json_safe(value)
    assert safe["n"] == 3 and type(safe["n"]) is int and safe["x"] == 0.5
    assert safe["nan"] is None and safe["t"] == ["a", "b"] and safe["s"] == ["a", "b"] and safe["arr"] == [1, 2]
    assert safe["obj"] == "bad" and not any(isinstance(v, float) and math.isnan(v) for v in safe.values())


def test_action_payload_sends_info_keys_only_when_asked():
    assert action_payload("go north") == {"message": "go north"}
    assert action_payload("2", field="word", info_keys=("expert_action",)) == {
        "word": "2", "metadata": {"info_keys": ["expert_action"]}}


@pytest.mark.parametrize(("code", "ours", "refused"), [
    ("VALIDATION_ERROR", True, True), ("INVALID_JSON", True, True), ("EXECUTION_ERROR", True, False),
    ("EXECUTION_ERROR", False, True), ("SESSION_ERROR", False, False), ("CAPACITY_REACHED", True, False),
])
def test_which_error_replies_are_a_refused_action(code, ours, refused):
    assert is_rejection(RuntimeError(f"Server error: boom (code: {code})"), ours) is refused
    assert is_rejection(ConnectionError(f"(code: {code})"), ours) is False
