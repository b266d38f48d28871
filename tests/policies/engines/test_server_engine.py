"""The server generation engine against the project's server in a process of its own (real HTTP)."""

import psutil
import pytest
import torch

from agentgym.core.policy import SamplingParams
from agentgym.rollout.prompts import build_messages
from policies.engines.server import ServerEngine
from policies.engines.server_process import ServerProcess
from policies.hf import HFPolicy
from policies.tiny import TinyConfig, build_tiny_model

SMALL = TinyConfig(hidden_size=64, num_layers=1, num_heads=1, num_kv_heads=1, intermediate_size=64, corpus_episodes=4)
PROMPTS = [build_messages(f"Walk to row {r}.", f"You are at row 2, column {r}.", (), ["north", "east"])
           for r in range(1, 7)]
GREEDY = SamplingParams(greedy=True, max_new_tokens=6)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), cfg=SMALL)


def _engine(policy, folder, tmp_path, **kw):
    process = ServerProcess(str(folder), version=0, threads=1, log_path=tmp_path / "server.log")
    return ServerEngine(policy, process.base_url, version=0, model=process.name, process=process, **kw)


def test_engine_samples_are_token_exact_and_follow_every_sync(folder, tmp_path):
    trained = HFPolicy.from_pretrained(folder, device="cpu")
    engine = _engine(trained, folder, tmp_path, prompts_per_request=4)  # 6 prompts: two requests
    try:
        assert engine.kind == "agentgym" and engine.rescores
        for version in (1, 2):
            got, want = engine.generate(PROMPTS, GREEDY), trained.generate(PROMPTS, GREEDY)
            assert [g.token_ids for g in got] == [w.token_ids for w in want]
            assert [g.prompt_ids for g in got] == [w.prompt_ids for w in want]
            assert [g.text for g in got] == [w.text for w in want]
            assert {g.policy_version for g in got} == {version - 1}
            for g, w in zip(got, want):
                torch.testing.assert_close(torch.tensor(g.logprobs), torch.tensor(w.logprobs), atol=1e-4, rtol=0)
            with torch.no_grad():  # an "update" the engine must follow
                for p in trained.model.parameters():
                    p.mul_(1.5)
            engine.load(engine.snapshot(trained), version)
            assert engine.version == version
        assert engine.context_length == trained.context_length
        assert engine.count_prompt_tokens(PROMPTS) == trained.count_prompt_tokens(PROMPTS)
    finally:
        engine.close()


def test_lora_policies_sync_their_adapters_only(folder, tmp_path):
    trained = HFPolicy.from_pretrained(folder, device="cpu", lora={"r": 2, "lora_alpha": 4})
    adapter = tmp_path / "adapter"
    trained.save(adapter)  # the server starts from the same LoRA policy
    engine = _engine(trained, adapter, tmp_path)
    try:
        with torch.no_grad():
            for name, p in trained.model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 2.0)
        snap = engine.snapshot(trained)
        assert snap.adapter_only and all("lora_" in n for n in snap.tensors)
        engine.load(snap, 1)
        got, want = engine.generate(PROMPTS, GREEDY), trained.generate(PROMPTS, GREEDY)
        assert [g.token_ids for g in got] == [w.token_ids for w in want]
    finally:
        engine.close()


def test_closing_the_engine_stops_the_server_process(folder, tmp_path):
    trained = HFPolicy.from_pretrained(folder, device="cpu")
    engine = _engine(trained, folder, tmp_path)
    pid = engine.process.proc.pid
    assert psutil.pid_exists(pid)
    engine.close()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_server_that_cannot_start_says_why(tmp_path):
    with pytest.raises(RuntimeError, match="exited with code"):
        ServerProcess(str(tmp_path / "no-such-model"), log_path=tmp_path / "server.log", startup_timeout_s=120)


def test_a_url_without_a_server_is_a_clear_error():
    trained = None
    with pytest.raises(RuntimeError, match="cannot reach the rollout server"):
        ServerEngine(trained, "http://127.0.0.1:9/v1", version=0)


def test_the_server_exits_when_its_run_is_killed(folder, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    script = (f"from policies.engines.server_process import ServerProcess\n"
              f"p = ServerProcess({str(folder)!r}, threads=1)\nprint(p.proc.pid, flush=True)\n"
              f"import time\ntime.sleep(600)\n")
    run = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    server = int(run.stdout.readline())
    assert psutil.pid_exists(server)
    run.send_signal(signal.SIGKILL)  # no cleanup code runs
    run.wait(timeout=30)
    deadline = time.monotonic() + 30
    while psutil.pid_exists(server) and psutil.Process(server).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the orphaned server is still running"
        time.sleep(0.2)


def test_a_server_serving_other_weights_than_pushed_is_an_error_not_a_sample(folder, tmp_path):
    import httpx

    from policies.weights import TOKEN_HEADER, VERSION_HEADER, snapshot, to_bytes

    trained = HFPolicy.from_pretrained(folder, device="cpu")
    engine = _engine(trained, folder, tmp_path)
    try:
        root = engine.base_url.removesuffix("/v1")
        push = to_bytes(snapshot(trained.model))
        refused = httpx.post(f"{root}/agentgym/weights", content=push, headers={VERSION_HEADER: "5"})
        assert refused.status_code == 403  # the run's server takes weights only with the run's token
        httpx.post(f"{root}/agentgym/weights", content=push,  # behind the engine's back, with its token
                   headers={VERSION_HEADER: "5", TOKEN_HEADER: engine.weights_token}).raise_for_status()
        with pytest.raises(RuntimeError, match="served policy version 5, but the trainer last pushed version 0"):
            engine.generate(PROMPTS, GREEDY)
    finally:
        engine.close()


# ---- issue 45 item 10: the timeout means the whole wait; a restarting server is waited for ----------------

def _start_serve(folder, port, tmp_path, token="run-token"):
    import os
    import subprocess
    import sys

    from policies.weights import TOKEN_ENV

    log = open(tmp_path / f"serve_{port}.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "policies.serve", "--model", str(folder), "--name", "m",
                             "--port", str(port), "--threads", "1"], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, TOKEN_ENV: token}, start_new_session=True)
    log.close()
    return proc


def _wait_up(port, proc, timeout_s=120):
    import time

    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise TimeoutError("server did not start")


def _stop(proc):
    import os
    import signal

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_a_frozen_server_fails_a_request_after_the_timeout_not_five_of_them(folder, tmp_path):
    import os
    import signal
    import time

    from policies.openai_api import EndpointUnavailable
    from tests.agentgym.conftest import free_port

    port = free_port()
    proc = _start_serve(folder, port, tmp_path)
    try:
        _wait_up(port, proc)
        engine = ServerEngine(HFPolicy.from_pretrained(folder, device="cpu"), f"http://127.0.0.1:{port}/v1",
                              version=0, model="m", timeout_s=3.0, weights_token="run-token")
        os.kill(proc.pid, signal.SIGSTOP)  # frozen: the socket accepts, nothing answers
        start = time.monotonic()
        with pytest.raises(EndpointUnavailable, match="within engine_timeout_s=3 s"):
            engine.generate(PROMPTS[:1], GREEDY)
        waited = time.monotonic() - start
        assert 2.9 <= waited < 4.5, waited  # before: 5 tries x 3 s + 7.5 s of backoff = 22.5 s
        os.kill(proc.pid, signal.SIGCONT)
        engine.close()
    finally:
        _stop(proc)


def test_a_remote_server_that_restarts_is_waited_for_and_gets_the_pushed_weights_back(folder, tmp_path):
    import threading

    from tests.agentgym.conftest import free_port

    trained = HFPolicy.from_pretrained(folder, device="cpu")
    port, procs = free_port(), []
    procs.append(_start_serve(folder, port, tmp_path))
    try:
        _wait_up(port, procs[0])
        engine = ServerEngine(trained, f"http://127.0.0.1:{port}/v1", version=-1, model="m", timeout_s=120.0,
                              weights_token="run-token", sync_dir=tmp_path / "sync")
        with torch.no_grad():
            for p in trained.model.parameters():
                p.mul_(1.5)  # weights the restarted server cannot have from its folder
        engine.load(engine.snapshot(trained), 3)
        want = [g.token_ids for g in trained.generate(PROMPTS, GREEDY)]
        assert [g.token_ids for g in engine.generate(PROMPTS, GREEDY)] == want
        _stop(procs[0])  # the server dies; someone restarts it a few seconds later, on the same port
        timer = threading.Timer(3.0, lambda: procs.append(_start_serve(folder, port, tmp_path)))
        timer.start()
        got = engine.generate(PROMPTS, GREEDY)  # waits, reconnects, pushes version 3 again, samples
        assert [g.token_ids for g in got] == want and {g.policy_version for g in got} == {3}
        timer.join()
        _stop(procs[1])  # restarted between two requests: seen by its new instance id, restored as well
        procs.append(_start_serve(folder, port, tmp_path))
        _wait_up(port, procs[2])
        assert [g.token_ids for g in engine.generate(PROMPTS, GREEDY)] == want
        engine.close()
    finally:
        for proc in procs:
            _stop(proc)
