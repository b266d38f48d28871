"""What travels between an OpenEnv server and its clients, and how it maps onto the gymnasium tuple.

Served by this project, one step is ``TextObservation``: ``text`` (the observation), ``terminated`` and
``truncated`` (kept apart: OpenEnv's own ``done`` is their ``or``), ``info`` (every info key of the
contract, JSON-safe) and ``reward``. Any OpenEnv server's reply is read back by ``parse_result``; for a
server that sends only ``done`` the rule is in its docstring (docs/openenv.md, "The mapping").
"""

from __future__ import annotations

import json
from typing import Any

from openenv.core.env_server.types import Action, Observation, State
from pydantic import Field

from agentgym.core.env import INFO_KEYS, OPTIONAL_INFO_KEYS

TEXT_FIELDS = ("text", "observation", "message", "prompt", "content")  # where a foreign observation's text is
TRUNCATION_FLAGS = ("truncated", "TimeLimit.truncated", "time_limit")  # a foreign server's "it was a time limit"


class TextAction(Action):
    """One action of a text environment. ``metadata["info_keys"]``: deferred info values to compute
    (the expert's plan); absent = all of them."""

    message: str = Field(..., description="The action text, exactly as the agent wrote it")


class TextObservation(Observation):
    """What a reset or step returns; ``done`` = ``terminated or truncated``."""

    text: str = Field(default="", description="The observation text")
    terminated: bool = Field(default=False, description="The task ended inside the MDP (success or failure)")
    truncated: bool = Field(default=False, description="A limit (the step limit) cut the episode")
    info: dict[str, Any] = Field(default_factory=dict, description="The environment's info dict (JSON-safe)")


class TextEnvState(State):
    """``/state``: which environment, split and task the session plays."""

    env_id: str = ""
    split: str = ""
    task_id: str | None = None
    max_steps: int | None = None
    env_kwargs: dict[str, Any] = Field(default_factory=dict, description="what every session's env is built with")


def json_safe(value: Any) -> Any:
    """``value`` as JSON would carry it: numpy scalars as numbers, tuples and sets as lists, NaN as None,
    anything else unknown as its ``str``; in-process and served play compare equal after this."""
    return json.loads(json.dumps(value, default=_fallback, allow_nan=True), parse_constant=lambda _: None)


def _fallback(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    return str(value)


def complete_info(info: dict[str, Any] | None) -> dict[str, Any]:
    """Every key of the info contract present (None where the server gave none), the server's others kept."""
    info = dict(info or {})
    for key in (*INFO_KEYS, *OPTIONAL_INFO_KEYS):
        info.setdefault(key, None)
    return info


def parse_result(payload: dict[str, Any], text_field: str | None = None) -> tuple[str, float, bool, bool, dict]:
    """An OpenEnv reply (``observation``, ``reward``, ``done``, ``metadata``) as the gymnasium step tuple.

    The observation text is ``text_field`` of the observation, else its first text field among
    ``TEXT_FIELDS``, else the whole observation as JSON. ``terminated``/``truncated``: the observation's own
    flags where it has them (this project's servers); otherwise ``done`` is ``terminated``, unless the
    observation or the metadata sets one of ``TRUNCATION_FLAGS`` (the server says it was a time limit).
    ``info``: the observation's ``info`` dict, else the metadata; every contract key present.
    """
    observation = dict(payload.get("observation") or {})
    metadata = dict(payload.get("metadata") or observation.get("metadata") or {})
    done = bool(payload.get("done", observation.get("done", False)))
    if "terminated" in observation and "truncated" in observation:
        terminated, truncated = bool(observation["terminated"]), bool(observation["truncated"])
    else:
        flagged = any(bool(source.get(flag)) for source in (observation, metadata) for flag in TRUNCATION_FLAGS)
        truncated = done and flagged
        terminated = done and not truncated
    info = observation.get("info") if isinstance(observation.get("info"), dict) else metadata
    reward = payload.get("reward")
    return observation_text(observation, text_field), float(reward or 0.0), terminated, truncated, complete_info(info)


def observation_text(observation: dict[str, Any], text_field: str | None = None) -> str:
    if text_field is not None:
        if text_field not in observation:
            raise KeyError(f"the server's observation has no field {text_field!r}; it has {sorted(observation)}")
        return str(observation[text_field])
    for name in TEXT_FIELDS:
        if isinstance(observation.get(name), str):
            return observation[name]
    rest = {k: v for k, v in observation.items() if k not in ("done", "reward", "metadata")}
    return json.dumps(rest, sort_keys=True, default=str)


def action_payload(text: str, field: str = "message", info_keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The step message's data: the action text under ``field``; ``info_keys`` only for this project's servers."""
    payload: dict[str, Any] = {field: text}
    if info_keys is not None:
        payload["metadata"] = {"info_keys": list(info_keys)}
    return payload
