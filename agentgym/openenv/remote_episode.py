"""One episode against an OpenEnv server, without the I/O: what to send for a reset or step, and how a
reply becomes the gymnasium tuple. The text environment (``openenv/Remote-v0``, synchronous) and the
``remote`` env-pool backend (many sessions at once, asynchronous) both play through it, so they agree.

For a server that is not this project's (its observation has no ``terminated``/``truncated``/``info``):
``task_id`` is the task API's id of the task a reset chose, else ``seed=<seed>``; ``state_key`` is the
observation text; the step limit (``max_steps``) is counted here (this project's servers are sent it).
A step after the episode ended, an action that is not text, and an action the server rejects are
answered here with explanatory observations, from the state the episode is in.
"""

from __future__ import annotations

from typing import Any

from agentgym.core.env import sanitise_action
from agentgym.openenv.server_info import ServerInfo
from agentgym.openenv.wire import action_payload, complete_info, parse_result

StepTuple = tuple[str, float, bool, bool, dict[str, Any]]


class RemoteEpisode:
    def __init__(self, server: ServerInfo, split: str = "train", max_steps: int | None = None,
                 text_field: str | None = None):
        split = server.resolve_split(split)  # the server's own name for it (task API servers)
        self.server, self.split, self.max_steps, self.text_field = server, split, max_steps, text_field
        self.steps_taken, self.done, self.task_id = 0, True, None
        self.started = False
        self.last_info: dict[str, Any] = complete_info({})  # the state a locally answered step stays in
        # this project's servers apply the limit themselves (it travels with the reset); others are counted here
        self.counts_steps = max_steps is not None and not server.ours

    # ---- reset ---------------------------------------------------------------------------------
    def reset_message(self, seed: int | None, options: dict[str, Any] | None,
                      info_keys: tuple[str, ...] | None) -> dict[str, Any]:
        """The reset's data. This project's servers get the gymnasium arguments as they are (the same seed
        and options pick the same task as in-process play); others get the seed, and the task API's
        ``split``/``index`` where they have that API and the options name a task."""
        options = dict(options or {})
        if self.server.ours:
            data: dict[str, Any] = {"seed": seed, "options": options or None, "split": self.split,
                                    "max_steps": self.max_steps}
            if info_keys is not None:
                data["info_keys"] = list(info_keys)
            return data
        data = {} if seed is None else {"seed": int(seed)}
        self.task_id = f"seed={seed}"
        if self.server.splits is not None:
            data["split"] = self.split
            if "task_id" in options:
                ids = self.server.task_ids(self.split)
                if str(options["task_id"]) not in ids:
                    raise ValueError(f"task {options['task_id']!r} is not in split {self.split!r} of the server")
                index = ids.index(str(options["task_id"]))
                # OpenEnv names no reset argument for the task: ``index`` (this project, the task API's
                # word) and ``task_index`` (harbor's); its server passes only those reset() accepts
                data["index"] = data["task_index"] = index
                self.task_id = str(options["task_id"])
        elif "task_id" in options:
            raise ValueError(f"the OpenEnv server at {self.server.base_url} has no task API: a reset cannot "
                             "choose a task by id")
        return data

    def on_reset(self, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        obs, _, _, _, info = parse_result(payload, self.text_field)
        self.steps_taken, self.done, self.started = 0, False, True
        return obs, self._fill(obs, info)

    # ---- step ----------------------------------------------------------------------------------
    def step_message(self, action: Any, info_keys: tuple[str, ...] | None) -> dict[str, Any] | StepTuple:
        """The step's data, or (when nothing needs sending) the local answer to give instead."""
        if not self.started:
            raise RuntimeError("Call reset() before step().")
        text, problem = (action, None) if isinstance(action, str) else sanitise_action(action)
        if problem is None and self.done and not self.server.ours:
            problem = "The episode is over; call reset() to start a new one."
        if problem is not None:
            return self.local_answer(problem)
        text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates cannot travel as UTF-8
        return action_payload(text, self.server.action_field, info_keys if self.server.ours else None)

    def on_step(self, payload: dict[str, Any]) -> StepTuple:
        obs, reward, terminated, truncated, info = parse_result(payload, self.text_field)
        self.steps_taken += 1
        if self.counts_steps and self.steps_taken >= self.max_steps and not terminated:
            truncated = True
        self.done = self.done or terminated or truncated
        info = self._fill(obs, info)
        return obs, reward, terminated, truncated, info

    def rejected(self, message: str) -> StepTuple:
        """The server answered the step with an error (it rejected the action, or its step raised): the
        agent sees why, and the episode goes on; a dead server is raised, not answered."""
        return self.local_answer(f"The environment rejected that action: {message}")

    def local_answer(self, observation: str) -> StepTuple:
        self.steps_taken += 1
        truncated = self.counts_steps and self.steps_taken >= self.max_steps and not self.done
        self.done = self.done or truncated
        info = {**self.last_info, "action_valid": False, "success": False}
        if self.server.ours:
            info["score"] = 0.0  # as the environment scores an unusable action in-process
        return observation, 0.0, False, truncated, info

    def _fill(self, obs: str, info: dict[str, Any]) -> dict[str, Any]:
        """The contract's keys a foreign server leaves out (see the module docstring); ``success`` and
        ``score`` stay None: only the server knows them."""
        if info.get("task_id") is None:
            info["task_id"] = self.task_id
        self.task_id = info["task_id"]
        if info.get("state_key") is None:
            info["state_key"] = obs
        if info.get("action_valid") is None:  # the server took the action without an error
            info["action_valid"] = True
        self.last_info = dict(info)
        return info
