"""LazyInfo reads like a plain dict; deferred values are computed once, on first read, and never before."""

import copy
import json
import pickle

from agentgym.core.lazy_info import Deferred, LazyInfo, lazy_copy, lazy_subset


def _info(calls):
    info = LazyInfo(task="t", expert_action=Deferred(lambda: calls.append(1) or "go north"))
    return info


def test_every_way_of_reading_sees_the_computed_value_once():
    calls = []
    info = _info(calls)
    assert info.deferred_keys() == ["expert_action"] and calls == []
    assert info["expert_action"] == "go north" and info.get("expert_action") == "go north"
    assert calls == [1] and info.deferred_keys() == []  # computed once, then kept
    for read in (dict, lambda i: {**i}, copy.copy, copy.deepcopy, lambda i: pickle.loads(pickle.dumps(i)),
                 lambda i: json.loads(json.dumps(i)), lambda i: dict(i.items())):
        assert read(_info([])) == {"task": "t", "expert_action": "go north"}
    assert _info([]) == {"task": "t", "expert_action": "go north"}
    assert not (_info([]) != {"task": "t", "expert_action": "go north"})


def test_lazy_copies_and_subsets_share_the_deferred_value_without_computing_it():
    calls = []
    info = _info(calls)
    copied = lazy_copy(info, step=3)
    subset = lazy_subset(info, ["expert_action", "missing"], success=True)
    assert calls == [] and copied.deferred_keys() == ["expert_action"] and copied["step"] == 3
    assert subset["expert_action"] == "go north" and subset["missing"] is None and subset["success"] is True
    assert copied["expert_action"] == "go north" and info["expert_action"] == "go north"
    assert calls == [1]  # one computation, shared by the original and its copies
    assert lazy_copy({"a": 1}, b=2) == {"a": 1, "b": 2}
    assert lazy_subset({"a": 1}, ["a", "z"], c=3) == {"a": 1, "z": None, "c": 3}


def test_resolve_info_computes_only_the_requested_deferred_values():
    from agentgym.core.lazy_info import Deferred, LazyInfo, resolve_info

    calls = []
    info = LazyInfo(task="t", expert_action=Deferred(lambda: calls.append("a") or "go"),
                    expert_steps_left=Deferred(lambda: calls.append("s") or 3))
    plain = resolve_info(info, ("expert_action",))
    assert plain == {"task": "t", "expert_action": "go", "expert_steps_left": None}
    assert type(plain) is dict and calls == ["a"]
    assert resolve_info({"task": "t"}, ("expert_action",)) == {"task": "t"}  # plain dicts pass through
