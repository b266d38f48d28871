"""``pool=remote``: every environment is a session on an OpenEnv server (``remote_urls``, round
robin), on other hosts or in containers (docs/openenv.md). All sessions are driven from one asyncio loop,
so a call costs one round trip, not one per environment.

Same fault model as the other backends: a server that dies, drops the session or stays silent past the
timeout ends that episode as an infrastructure failure (``worker_died`` / ``timeout``), never a reward;
the next reset opens a fresh session, on the next live server when its own is gone. A step the server
refuses (a bad action) is an explanatory observation, as in-process.
"""

from __future__ import annotations

import asyncio
import threading
import traceback
from collections.abc import Sequence
from typing import Any

from agentgym.core.env import DEFAULT_MAX_OBSERVATION_CHARS
from agentgym.core.registry import class_attribute
from agentgym.openenv.remote_episode import RemoteEpisode
from agentgym.openenv.server_info import is_connection_fault, is_rejection, probe, reply_payload
from agentgym.rollout.pool.protocol import EnvFailure, HostSpec
from agentgym.util.text_cut import cut_observation

REMOTE_ID = "openenv/Remote-v0"
ANSWER_GRACE_S = 30.0  # the client's own message timeout: past the pool's per-call timeout, a backstop


class RemoteEnvPool:
    def __init__(self, spec: HostSpec, size: int, urls: Sequence[str]):
        self.env_id, self.spec, self.size = spec.env_id, spec, size
        wrapper = _wrapper_kwargs(spec)
        urls = list(urls) or ([wrapper["base_url"]] if wrapper.get("base_url") else [])
        if not urls:
            raise ValueError("pool=remote needs remote_urls: the OpenEnv servers to play on "
                             "(python -m agentgym.serve_env ID --port P starts one)")
        self.text_field = wrapper.get("text_field")
        self.servers = [probe(url, wrapper.get("action_field")) for url in dict.fromkeys(urls)]
        for server in self.servers:
            _check_serves(server, spec)
        self.max_steps = spec.env_kwargs.get("max_steps")
        self.limit = spec.max_observation_chars or _own_limit(spec.env_id)
        self._clients: list[Any] = [None] * size
        self._home = [i % len(self.servers) for i in range(size)]  # the server each environment's session is on
        self._episodes = [self._new_episode(i) for i in range(size)]
        self._restarts = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="remote-env-pool", daemon=True)
        self._thread.start()

    def __len__(self) -> int:
        return self.size

    @property
    def worker_restarts(self) -> int:
        """Sessions reopened after their server died, dropped them or stayed silent."""
        return self._restarts

    def task_ids(self) -> list[str]:
        """From the first server that answers (they serve the same environment, so the same ids)."""
        for server in self.servers[:-1]:
            try:
                return server.task_ids(self.spec.split)
            except ConnectionError:
                continue
        return self.servers[-1].task_ids(self.spec.split)

    def reset(self, indices: Sequence[int], resets: Sequence[dict[str, Any]],
              info_keys: Sequence[str] = ()) -> list[Any]:
        return self._run("reset", indices, resets, tuple(info_keys), self.spec.reset_timeout_s)

    def step(self, indices: Sequence[int], actions: Sequence[str], info_keys: Sequence[str] = ()) -> list[Any]:
        return self._run("step", indices, actions, tuple(info_keys), self.spec.step_timeout_s)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._close_all(), self._loop).result(timeout=60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    # ---- one call on many sessions -------------------------------------------------------------
    def _run(self, op: str, indices: Sequence[int], args: Sequence[Any], info_keys: tuple[str, ...],
             timeout: float | None) -> list[Any]:
        calls = [self._one(op, i, arg, info_keys, timeout) for i, arg in zip(indices, args)]
        gathered = asyncio.run_coroutine_threadsafe(_gather(calls), self._loop)
        return gathered.result()

    async def _one(self, op: str, index: int, arg: Any, info_keys: tuple[str, ...], timeout: float | None) -> Any:
        episode = self._episodes[index]
        try:
            if op == "reset":
                if self._clients[index] is None:
                    await asyncio.wait_for(self._open(index), timeout)
                    episode = self._episodes[index]  # for the server the session opened on
                data = episode.reset_message(arg.get("seed"), arg.get("options"), info_keys)
                payload = await asyncio.wait_for(self._send(index, "reset", data), timeout)
                obs, info = episode.on_reset(payload)
                return cut_observation(obs, info, self.limit)
            message = episode.step_message(arg, info_keys)
            if isinstance(message, tuple):
                result = message
            else:
                try:
                    result = episode.on_step(await asyncio.wait_for(self._send(index, "step", message), timeout))
                except RuntimeError as exc:
                    if not is_rejection(exc, episode.server.ours):
                        raise
                    result = episode.rejected(str(exc))
            obs, info = cut_observation(result[0], result[4], self.limit)
            return obs, result[1], result[2], result[3], info
        except TimeoutError:
            await self._drop(index, restart=True)
            return EnvFailure("timeout", f"{op} on {self._url(index)} ran past {timeout} s")
        except Exception as exc:  # noqa: BLE001 - every fault of one session becomes that episode's failure
            died = is_connection_fault(exc)
            await self._drop(index, restart=died)
            return EnvFailure("worker_died" if died else "error",
                              f"{op} on {self._url(index)}: {type(exc).__name__}: {exc}",
                              "".join(traceback.format_exception(exc)))

    async def _open(self, index: int) -> None:
        """A new session for environment ``index``: on its server, or, when that one cannot be reached, on
        the next one that can (a dead server's environments move to the live ones)."""
        from openenv.core.generic_client import GenericEnvClient

        timeout = max(self.spec.step_timeout_s or 0, self.spec.reset_timeout_s or 0) + ANSWER_GRACE_S
        for shift in range(len(self.servers)):
            home = (self._home[index] + shift) % len(self.servers)
            client = GenericEnvClient(base_url=self.servers[home].base_url, message_timeout_s=timeout)
            try:
                await client.connect()
            except Exception as exc:
                if not is_connection_fault(exc) or shift == len(self.servers) - 1:
                    raise
                continue
            if home != self._home[index]:
                self._home[index] = home
                self._episodes[index] = self._new_episode(index)
            self._clients[index] = client
            return

    async def _send(self, index: int, op: str, data: dict[str, Any]) -> dict[str, Any]:
        client = self._clients[index]  # opened by the reset (a step before one is refused by its episode)
        return reply_payload(await (client.reset(**data) if op == "reset" else client.step(data)))

    async def _drop(self, index: int, restart: bool) -> None:
        """Forget a session whose state is unknown; the next reset opens a fresh one (a fresh environment)."""
        client, self._clients[index] = self._clients[index], None
        self._episodes[index] = self._new_episode(index)  # not started: a step before the next reset is refused
        if client is not None:
            try:
                await asyncio.wait_for(client.close(), 5)
            except Exception:  # noqa: BLE001 - the session is being thrown away because it broke
                pass
        if restart:
            self._restarts += 1

    async def _close_all(self) -> None:
        for index in range(self.size):
            await self._drop(index, restart=False)

    def _new_episode(self, index: int) -> RemoteEpisode:
        return RemoteEpisode(self.servers[self._home[index]], self.spec.split, self.max_steps, self.text_field)

    def _url(self, index: int) -> str:
        return self.servers[self._home[index]].base_url


async def _gather(calls: list[Any]) -> list[Any]:
    return list(await asyncio.gather(*calls))


def _wrapper_kwargs(spec: HostSpec) -> dict[str, Any]:
    """``openenv/Remote-v0``'s kwargs the sessions honour as the wrapper does: ``base_url`` (the server when
    no remote_urls are given), ``action_field``, ``text_field``, ``max_steps``; ``info_keys`` and
    ``render_mode`` mean nothing here (the rollout asks for the info it reads). Others are refused, not
    dropped."""
    if spec.env_id != REMOTE_ID:
        return {}
    unknown = sorted(set(spec.env_kwargs) - {"base_url", "action_field", "text_field", "max_steps", "info_keys",
                                             "render_mode"})
    if unknown:
        hint = " (pool=remote times a step by env_step_timeout_s)" if "message_timeout_s" in unknown else ""
        raise ValueError(f"pool=remote cannot honour {REMOTE_ID}'s env_kwargs {unknown}{hint}")
    return dict(spec.env_kwargs)


def _check_serves(server: Any, spec: HostSpec) -> None:
    """A server of this project must serve the run's environment with the run's constructor kwargs (the
    step limit aside, which travels with each reset): a mismatch would train on something else."""
    if not server.ours or spec.env_id == REMOTE_ID:
        return
    served = server.metadata.get("name")
    if served != spec.env_id:
        raise ValueError(f"the OpenEnv server at {server.base_url} serves {served}, but the run plays {spec.env_id}")
    wanted = {k: v for k, v in spec.env_kwargs.items() if k != "max_steps"}
    kwargs = {k: v for k, v in server.session_state().get("env_kwargs", {}).items() if k != "max_steps"}
    if wanted != kwargs:
        raise ValueError(f"the OpenEnv server at {server.base_url} builds {spec.env_id} with {kwargs}, the run asks "
                         f"for {wanted}: start the server with --env-kwargs matching the run's env_kwargs")


def _own_limit(env_id: str) -> int:
    try:
        return int(class_attribute(env_id, "max_observation_chars", DEFAULT_MAX_OBSERVATION_CHARS))
    except Exception:  # noqa: BLE001 - the environment's package is only on the server's machine
        return DEFAULT_MAX_OBSERVATION_CHARS
