"""What a client learns once from an OpenEnv server's HTTP routes: who it is, its action field, its splits
and task ids, and whether it speaks this project's wire format (``terminated``/``truncated``/``info``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from agentgym.core.env import TasksNotListed
from agentgym.openenv.wire import TextObservation

REFUSED_CODES = ("VALIDATION_ERROR", "INVALID_JSON")  # the message did not fit the server's action model
RAISED_CODE = "EXECUTION_ERROR"  # the environment's step raised


class ServerUnavailable(ConnectionError):
    """The OpenEnv server cannot be reached or closed the session: an infrastructure failure, never a reward."""


def is_rejection(exc: BaseException, ours: bool) -> bool:
    """Whether an error reply to a step means "bad action" (answered with an explanatory observation), not
    an environment fault. OpenEnv's client raises ``RuntimeError("Server error: ... (code: X)")``. A refused
    message is always the action's fault. A step that raised is a fault of this project's environments
    (their steps never raise on any text: the contract), but a foreign environment's way of refusing an
    action, since OpenEnv has no invalid-action convention."""
    if not isinstance(exc, RuntimeError):
        return False
    codes = REFUSED_CODES if ours else (*REFUSED_CODES, RAISED_CODE)
    return any(f"(code: {code})" in str(exc) for code in codes)


def is_connection_fault(exc: BaseException) -> bool:
    """The server is gone or dropped the session (not: it answered with an error)."""
    if isinstance(exc, (ConnectionError, OSError, EOFError)):
        return True
    return type(exc).__module__.startswith("websockets")


def reply_payload(result: Any) -> dict[str, Any]:
    """OpenEnv's ``StepResult`` back as the wire's reply dict (what ``wire.parse_result`` reads)."""
    return {"observation": result.observation, "reward": result.reward, "done": result.done,
            "metadata": result.metadata}


SPLIT_KINDS = {"train": ("train",), "valid_seen": ("validation", "test"), "valid_unseen": ("test", "validation")}
PAGE = 1000  # task specs asked for per /task_range request


@dataclass
class ServerInfo:
    base_url: str
    name: str  # the task API's route name
    metadata: dict[str, Any]
    action_field: str
    ours: bool  # observations carry terminated, truncated and info (served by agentgym.serve_env)
    splits: list[str] | None  # None: the server has no task API
    timeout_s: float = 30.0
    split_types: dict[str, str] = field(default_factory=dict)  # split name -> train | validation | test
    _task_ids: dict[str, list[str]] = field(default_factory=dict)

    def resolve_split(self, split: str) -> str:
        """The server's split for one of ours: the same name where it has it; otherwise the one split of
        the matching kind (train -> train; valid_seen -> validation, else test; valid_unseen -> test, else
        validation), so a held-out evaluation finds a foreign server's held-out tasks."""
        if self.splits is None or split in self.splits:
            return split
        for kind in SPLIT_KINDS.get(split, ()):
            named = [s for s in self.splits if self.split_types.get(s) == kind]
            if len(named) == 1:
                return named[0]
            if len(named) > 1:
                raise ValueError(f"the OpenEnv server at {self.base_url} has several {kind} splits {named} and none "
                                 f"named {split!r}: pass split= one of {self.splits}")
        raise ValueError(f"the OpenEnv server at {self.base_url} has splits {self.splits}, not {split!r}")

    def task_ids(self, split: str) -> list[str]:
        """The split's task ids in the server's order, read with OpenEnv 0.10's task API: ``num_tasks``,
        then ``task_range`` a page at a time (``/tasks`` may be a bounded preview), ``/tasks`` where those
        two are missing. A task's id is its spec's ``id`` (or ``task_id``, or ``name``), a plain string
        spec itself, else its index."""
        if self.splits is None:
            raise TasksNotListed(f"the OpenEnv server at {self.base_url} has no task API (/{self.name}/tasks "
                               "answers 501), so its tasks cannot be listed; train on it by reset seeds")
        split = self.resolve_split(split)
        if split not in self._task_ids:
            try:
                total = int(_request(self, "post", f"/{self.name}/num_tasks", json={"split": split})["num_tasks"])
                specs: list[Any] = []
                while len(specs) < total:
                    page = _request(self, "post", f"/{self.name}/task_range",
                                    json={"split": split, "start": len(specs), "stop": min(total, len(specs) + PAGE)})
                    if not page.get("tasks"):
                        raise RuntimeError(f"the OpenEnv server at {self.base_url} reports {total} tasks in split "
                                           f"{split!r} but its task_range stops at {len(specs)}")
                    specs.extend(page["tasks"])
            except LookupError:  # no num_tasks / task_range: the full list
                specs = _request(self, "post", f"/{self.name}/tasks", json={"split": split})["tasks"]
            self._task_ids[split] = [task_id(spec, i) for i, spec in enumerate(specs)]
        return self._task_ids[split]

    def session_state(self) -> dict[str, Any]:
        """``/state`` of a fresh session (this project's servers report env_id, split and env_kwargs there)."""
        from openenv.core.generic_client import GenericEnvClient

        try:
            with GenericEnvClient(base_url=self.base_url, message_timeout_s=self.timeout_s).sync() as client:
                return dict(client.state())
        except Exception as exc:
            if is_connection_fault(exc):
                raise ServerUnavailable(f"the OpenEnv server at {self.base_url} refused a session: {exc}") from exc
            raise

    def check_split(self, split: str) -> None:
        self.resolve_split(split)


def task_id(spec: Any, index: int) -> str:
    """A task spec's id: OpenEnv leaves the spec's shape to the environment (``{"id"}``, harbor's
    ``{"task_id"}``, a name, a plain string)."""
    if isinstance(spec, dict):
        for key in ("id", "task_id", "name"):
            if spec.get(key) is not None:
                return str(spec[key])
        return str(index)
    return spec if isinstance(spec, str) else str(index)


def probe(base_url: str, action_field: str | None = None, timeout_s: float = 30.0) -> ServerInfo:
    """Read ``/metadata``, ``/schema``, ``/list_environments`` and the splits; a clear error when the
    server is down or its action has no single text field to put the action in."""
    base_url = base_url.rstrip("/")
    bare = ServerInfo(base_url, "", {}, "", False, None, timeout_s)
    metadata = _request(bare, "get", "/metadata")
    schema = _request(bare, "get", "/schema")
    names = _request(bare, "get", "/list_environments")
    observation_fields = set((schema.get("observation") or {}).get("properties") or {})
    ours = set(TextObservation.model_fields) - {"reward", "done", "metadata"} <= observation_fields
    info = ServerInfo(base_url, str(names[0]) if names else "", metadata,
                      action_field or _text_field(schema.get("action") or {}, base_url), ours, None, timeout_s)
    if info.name:
        try:
            listed = _request(info, "get", f"/{info.name}/splits")
        except LookupError:  # 501 or 404: no task API
            listed = None
        if listed is not None:
            info.splits = [s["name"] if isinstance(s, dict) else str(s) for s in listed]
            info.split_types = {s["name"]: str(s.get("type", "")) for s in listed if isinstance(s, dict)}
    return info


def _text_field(action_schema: dict[str, Any], base_url: str) -> str:
    properties = {k: v for k, v in (action_schema.get("properties") or {}).items() if k != "metadata"}
    text = [k for k, v in properties.items() if v.get("type") == "string"]
    if "message" in text:
        return "message"
    if len(text) == 1:
        return text[0]
    raise ValueError(f"cannot tell which field of the action of the OpenEnv server at {base_url} takes the text "
                     f"(string fields: {text or 'none'}; all fields: {sorted(properties)}): pass action_field=...")


def _request(info: ServerInfo, method: str, path: str, **kwargs: Any) -> Any:
    try:
        response = httpx.request(method, info.base_url + path, timeout=info.timeout_s, **kwargs)
    except httpx.HTTPError as exc:
        raise ServerUnavailable(f"the OpenEnv server at {info.base_url} did not answer {path}: {exc}") from exc
    if response.status_code in (404, 501):
        raise LookupError(f"{path}: {response.status_code}")
    response.raise_for_status()
    return response.json()
