"""``openenv/Remote-v0``: a running OpenEnv server as a text environment, for training, evaluation and
``check_env`` like any other (``agentgym.make("openenv/Remote-v0", base_url="http://host:8000")``).

One WebSocket session per environment, opened on the first reset. A server that cannot be reached or
drops the session raises ``ServerUnavailable`` (a ``ConnectionError``): the env pool ends the episode as
an infrastructure failure and builds a fresh environment, never a reward. An action the server rejects
is answered with an explanatory observation, as the contract asks.
"""

from __future__ import annotations

from typing import Any

import gymnasium

from agentgym.core.env import MAX_ACTION_CHARS
from agentgym.core.spaces import FreeText
from agentgym.openenv.remote_episode import RemoteEpisode, StepTuple
from agentgym.openenv.server_info import (
    ServerUnavailable,
    is_connection_fault,
    is_rejection,
    probe,
    reply_payload,
)


class OpenEnvRemote(gymnasium.Env[str, str]):
    """``base_url``: the server (http:// or ws://). ``split``: sent to servers with OpenEnv's task API.
    ``max_steps``: the step limit, sent to this project's servers and counted here for others (None: the
    server's own). ``info_keys``: the deferred info values this project's servers compute at every step
    (None: all of them). ``action_field`` /
    ``text_field``: where a foreign server's action takes the text and its observation gives it (found
    from ``/schema`` when None)."""

    metadata: dict[str, Any] = {"render_modes": ["ansi"]}
    engine = "thread"  # steps wait on the network
    # Unknown until a server is probed: only this project's servers report expert_action and admissible
    # actions. So the class says no (no default tiny model warm-started on an expert that is not there, no
    # random-admissible baseline); an instance says what its server offers.
    has_expert = False
    has_admissible_actions = False

    def __init__(self, base_url: str | None = None, split: str = "train", max_steps: int | None = None,
                 info_keys: list[str] | None = None, action_field: str | None = None, text_field: str | None = None,
                 message_timeout_s: float = 600.0, render_mode: str | None = None):
        if not base_url:
            raise ValueError("openenv/Remote-v0 plays a running OpenEnv server: pass base_url='http://host:port'")
        from openenv.core.generic_client import GenericEnvClient

        self.server = probe(base_url, action_field)
        self.has_expert = self.has_admissible_actions = self.server.ours
        self.split, self.render_mode = split, render_mode
        self.info_keys = None if info_keys is None else tuple(info_keys)
        self.episode = RemoteEpisode(self.server, split, max_steps, text_field)
        self.observation_space = FreeText(MAX_ACTION_CHARS)
        self.action_space = FreeText(MAX_ACTION_CHARS)
        self._client_class, self._timeout = GenericEnvClient, message_timeout_s
        self._client: Any = None
        self.last_observation = ""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        data = self.episode.reset_message(seed, options, self.info_keys)
        self.last_observation, info = self.episode.on_reset(self._send("reset", data))
        return self.last_observation, info

    def step(self, action: Any) -> StepTuple:
        message = self.episode.step_message(action, self.info_keys)
        if isinstance(message, tuple):
            result = message
        else:
            try:
                result = self.episode.on_step(self._send("step", message))
            except _Rejected as exc:
                result = self.episode.rejected(str(exc))
        self.last_observation = result[0]
        return result

    def task_ids(self) -> list[str]:
        return self.server.task_ids(self.episode.split)

    def num_tasks(self) -> int:
        return len(self.task_ids())

    def render(self) -> str | None:
        return self.last_observation if self.render_mode == "ansi" else None

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing a session whose server is gone
                pass

    def _send(self, op: str, data: dict[str, Any]) -> dict[str, Any]:
        """One message on this environment's session (opened on first use); the reply's data."""
        try:
            if self._client is None:
                self._client = self._client_class(base_url=self.server.base_url, message_timeout_s=self._timeout).sync()
                self._client.connect()
            return reply_payload(self._client.reset(**data) if op == "reset" else self._client.step(data))
        except Exception as exc:
            if op == "step" and is_rejection(exc, self.server.ours):
                raise _Rejected(str(exc)) from exc
            self.close()  # the session's state is unknown now: the next reset opens a fresh one
            if is_connection_fault(exc):  # TimeoutError included: it is an OSError
                raise ServerUnavailable(f"the OpenEnv session at {self.server.base_url} failed during {op}: "
                                        f"{type(exc).__name__}: {exc}") from exc
            raise


class _Rejected(Exception):
    """The server answered a step with an error that says the action, not the server, is at fault."""
