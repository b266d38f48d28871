"""``python -m agentgym.serve_env`` against careless and hostile clients: idle sessions are reaped, a session holds
one environment, malformed WebSocket messages are answered (the session goes on), client errors are 4xx, bodies
are capped. Real server processes; OpenEnv's own client and a raw WebSocket."""

import gc
import json
import time
import weakref

import pytest

pytest.importorskip("openenv")

import httpx  # noqa: E402
from openenv.core.generic_client import GenericEnvClient  # noqa: E402

ENV = "agentgym/FrozenLake-v0"


@pytest.fixture(scope="module")
def server(openenv_servers):
    url, _ = openenv_servers.serve_env(ENV, "--max-sessions", "3", "--session-timeout-s", "1",
                                       "--max-body-kb", "64", "--max-message-kb", "64")
    return url


def _ws(url):
    from websockets.sync.client import connect

    return connect(url.replace("http://", "ws://") + "/ws", max_size=None)


def _create_http_session(url):
    body = {"jsonrpc": "2.0", "method": "openenv/session/create", "params": {}, "id": 1}
    return httpx.post(f"{url}/mcp", json=body, timeout=30).json()


def test_forgotten_http_sessions_are_reaped_but_a_quiet_websocket_keeps_its_session(server):
    with GenericEnvClient(base_url=server).sync() as quiet:
        quiet.reset(seed=1)
        made = [_create_http_session(server) for _ in range(2)]  # with `quiet`: every slot taken
        assert all("session_id" in m.get("result", {}) for m in made), made
        assert "error" in _create_http_session(server)  # full
        time.sleep(7.0)  # past the 1 s timeout and the reaper's 5 s round
        with GenericEnvClient(base_url=server).sync() as late:  # the forgotten sessions' slots are free again
            assert late.reset(seed=2).observation["text"]
        result = quiet.step({"message": "left"})  # idle for 7 s, yet its environment is still there
        assert result.observation["info"]["task_id"]


def test_a_session_holds_one_environment_whatever_step_limits_it_resets_with():
    from agentgym.openenv.served_env import ServedSpec, ServedTextEnv

    session = ServedTextEnv(ServedSpec(ENV))
    built = []
    for max_steps in (5, 6, 7, 8, 5):
        session.reset(seed=0, max_steps=max_steps)
        built.append(weakref.ref(session._env_built))
    session.reset(seed=0, split="valid_seen")
    gc.collect()
    assert sum(ref() is not None for ref in built) == 0  # only the valid_seen one is alive
    assert session.state.split == "valid_seen"
    session.close()


@pytest.mark.parametrize("max_steps", [0, -3, "3", True, 2.5])
def test_a_step_limit_that_is_not_a_positive_whole_number_is_refused(server, max_steps):
    assert httpx.post(f"{server}/reset", json={"max_steps": max_steps}, timeout=30).status_code == 400
    with GenericEnvClient(base_url=server).sync() as client:
        with pytest.raises(RuntimeError, match="max_steps"):
            client.reset(seed=0, max_steps=max_steps)
        assert client.reset(seed=0, max_steps=3).observation["text"]  # the session goes on


BAD_MESSAGES = {
    "a list": "[1, 2]",
    "a string": '"reset"',
    "deep nesting": "[" * 100_000 + "]" * 100_000,
    "nesting past the cap": '{"type": "reset", "data": {"options": ' + '{"a": ' * 70 + "1" + "}" * 70 + "}}",
    "a 4,301-digit number": '{"type": "reset", "data": {"seed": ' + "9" * 4301 + "}}",
    "broken JSON": '{"type": "reset", ',
    "over the message cap": json.dumps({"type": "step", "data": {"message": "x" * 70_000}}),
}


def test_malformed_websocket_messages_are_answered_and_the_session_goes_on(server):
    with _ws(server) as ws:
        ws.send(json.dumps({"type": "reset", "data": {"seed": 4}}))
        first = json.loads(ws.recv(timeout=30))
        assert first["type"] == "observation"
        for name, message in [*BAD_MESSAGES.items(), ("a binary frame", b"\x00\x01binary")]:
            ws.send(message)
            reply = json.loads(ws.recv(timeout=30))
            assert reply["type"] == "error" and reply["data"]["message"], name
        ws.send(json.dumps({"type": "step", "data": {"message": "left"}}))
        step = json.loads(ws.recv(timeout=30))
        assert step["type"] == "observation" and step["data"]["observation"]["info"]["task_id"] == \
            first["data"]["observation"]["info"]["task_id"]


def test_client_errors_over_http_are_4xx(server):
    name = ENV.split("/")[1]
    assert httpx.post(f"{server}/reset", json={"split": "nope"}, timeout=30).status_code == 400
    step = httpx.post(f"{server}/step", json={"action": {"message": "left"}}, timeout=30)
    assert step.status_code == 409 and "stateless" in step.json()["detail"]
    for route, extra in (("tasks", {}), ("num_tasks", {}), ("task", {"index": 0}), ("task_range", {})):
        answer = httpx.post(f"{server}/{name}/{route}", json={"split": "nope", **extra}, timeout=30)
        assert answer.status_code == 400 and "nope" in answer.json()["detail"], route
    assert httpx.post(f"{server}/reset", json={"index": "first"}, timeout=30).status_code == 400


def test_http_bodies_over_the_cap_are_413(server):
    big = httpx.post(f"{server}/reset", json={"options": {"pad": "x" * 100_000}}, timeout=30)
    assert big.status_code == 413
    assert httpx.post(f"{server}/reset", json={"seed": 1}, timeout=30).status_code == 200


def test_the_command_refuses_a_used_port_and_bad_limits_in_one_line(openenv_servers, tmp_path):
    import subprocess
    import sys

    url, _ = openenv_servers.serve_env(ENV)
    port = url.rsplit(":", 1)[1]
    cases = {"used port": ["--port", port], "negative timeout": ["--session-timeout-s", "-1"],
             "zero body cap": ["--max-body-kb", "0"], "unknown env": [], "bad kwargs": ["--env-kwargs", "{colour: 1}"]}
    for name, flags in cases.items():
        env_id = "agentgym/NoSuchEnv-v0" if name == "unknown env" else ENV
        result = subprocess.run([sys.executable, "-m", "agentgym.serve_env", env_id, *flags], capture_output=True,
                                text=True, timeout=120)
        assert result.returncode != 0, name
        assert "Traceback" not in result.stderr, (name, result.stderr)
        assert "error" in result.stderr.lower() or "cannot" in result.stderr, (name, result.stderr)
