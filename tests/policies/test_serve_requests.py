"""policies.serve against bad clients: 4xx in OpenAI's error shape, batch-mates untouched, streaming, body caps,
the weights token of the command, and the command's own bad arguments."""

import os
import subprocess
import sys
import threading
import time

import httpx
import pytest
import torch

from agentgym.core.policy import SamplingParams
from agentgym.rollout.prompts import build_messages
from policies.hf import HFPolicy
from policies.serve import Batcher, ServerThread
from policies.tiny import TinyConfig, build_tiny_model
from policies.weights import TOKEN_ENV, TOKEN_HEADER, VERSION_HEADER, WeightSnapshot, snapshot, to_bytes

SMALL = TinyConfig(hidden_size=64, num_layers=1, num_heads=1, num_kv_heads=1, intermediate_size=64, corpus_episodes=4)
MESSAGES = build_messages("Walk to row 2.", "You are at row 1, column 1.", (), ["north", "south"])
GREEDY = SamplingParams(greedy=True, max_new_tokens=5)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), cfg=SMALL)


@pytest.fixture(scope="module")
def server(folder):
    with ServerThread(HFPolicy.from_pretrained(folder, device="cpu"), model_name="m", max_wait_s=0.2) as running:
        yield running


def _vocab(server) -> int:
    return server.server.config.app.state.batcher.policy.model.get_input_embeddings().num_embeddings


BAD_CHAT = {
    "a temperature that is a word": {"messages": MESSAGES, "temperature": "hot"},
    "an unknown role": {"messages": [{"role": "wizard", "content": "hi"}]},
    "content that is a number": {"messages": [{"role": "user", "content": 7}]},
    "top_p of zero": {"messages": MESSAGES, "top_p": 0},
    "max_tokens of zero": {"messages": MESSAGES, "max_tokens": 0},
    "n of two": {"messages": MESSAGES, "n": 2},
    "a stop that is a number": {"messages": MESSAGES, "stop": 3},
}


@pytest.mark.parametrize("case", sorted(BAD_CHAT))
def test_bad_chat_requests_are_4xx_in_openai_error_shape(server, case):
    response = httpx.post(f"{server.base_url}/chat/completions", json=BAD_CHAT[case], timeout=60)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]


@pytest.mark.parametrize("body", [b"[1, 2]", b"{not json", b"7", b"[" * 100_000, b'{"prompt": ' + b"9" * 5000 + b"}"],
                         ids=["a list", "broken JSON", "a number", "deep nesting", "a 5000-digit number"])
def test_bodies_that_are_not_a_json_object_are_400(server, body):
    for route in ("chat/completions", "completions"):
        response = httpx.post(f"{server.base_url}/{route}", content=body, timeout=60,
                              headers={"content-type": "application/json"})
        assert response.status_code == 400, response.text
        assert "JSON" in response.json()["error"]["message"]


def test_an_unknown_model_is_404_and_an_out_of_vocabulary_token_is_400(server):
    chat = httpx.post(f"{server.base_url}/chat/completions", json={"model": "gpt-9", "messages": MESSAGES}, timeout=60)
    assert chat.status_code == 404 and chat.json()["error"]["code"] == "model_not_found"
    vocab = _vocab(server)
    ids = httpx.post(f"{server.base_url}/completions", json={"prompt": [[1, 2, vocab]], "max_tokens": 2}, timeout=60)
    assert ids.status_code == 400 and ids.json()["error"]["param"] == "prompt[0]"
    assert f"token id {vocab}" in ids.json()["error"]["message"]


def test_a_bad_request_sent_with_good_ones_fails_alone_over_http(server):
    vocab, results = _vocab(server), {}

    def post(name, prompt):
        results[name] = httpx.post(f"{server.base_url}/completions", timeout=120,
                                   json={"prompt": prompt, "max_tokens": 4, "temperature": 0})

    threads = [threading.Thread(target=post, args=(f"good{i}", [[3, 4, 5 + i]])) for i in range(3)]
    threads.append(threading.Thread(target=post, args=("bad", [[3, vocab + 5]])))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results["bad"].status_code == 400
    assert all(results[f"good{i}"].status_code == 200 for i in range(3))


def test_the_batcher_answers_batch_mates_of_a_request_whose_generation_fails(folder):
    """Behind the checks: a prompt that breaks the model (an id past the embedding table) is batched with
    good ones; they get exactly what they get alone, it gets its own error."""
    policy = HFPolicy.from_pretrained(folder, device="cpu")
    good = [[3, 4, 5], [6, 7, 8, 9]]
    alone = [g.token_ids for g in policy.generate_ids(good, GREEDY)]
    batcher = Batcher(policy, max_wait_s=0.5)
    try:
        bad_id = policy.model.get_input_embeddings().num_embeddings + 10
        futures = [batcher.submit_ids(good[0], GREEDY), batcher.submit_ids([3, bad_id], GREEDY),
                   batcher.submit_ids(good[1], GREEDY)]
        assert [futures[0].result(60)[0].token_ids, futures[2].result(60)[0].token_ids] == alone
        with pytest.raises(IndexError):
            futures[1].result(60)
    finally:
        batcher.close()


def test_stream_true_streams_openai_chunks_that_add_up_to_the_plain_answer(server):
    from openai import OpenAI

    client = OpenAI(base_url=server.base_url, api_key="none", max_retries=0)
    plain = client.chat.completions.create(model="m", messages=MESSAGES, temperature=0, max_tokens=5)
    chunks = list(client.chat.completions.create(model="m", messages=MESSAGES, temperature=0, max_tokens=5,
                                                 stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == plain.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == plain.choices[0].finish_reason
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    text = list(client.completions.create(model="m", prompt=[[3, 4, 5], [6, 7]], temperature=0, max_tokens=3,
                                          stream=True))
    assert sorted(c.choices[0].index for c in text) == [0, 1]


# ---- weight pushes: body cap, streaming, dtypes -------------------------------------------------------

def test_an_oversized_weight_push_is_413_whether_declared_or_streamed(folder):
    served = HFPolicy.from_pretrained(folder, device="cpu")
    before = {n: t.clone() for n, t in served.model.state_dict().items()}
    push = to_bytes(snapshot(HFPolicy.from_pretrained(folder, device="cpu").model))

    def chunks():
        for start in range(0, len(push), 4096):
            yield push[start:start + 4096]

    with ServerThread(served, model_name="m", max_weights_bytes=len(push) // 2) as running:
        root = running.base_url.removesuffix("/v1")
        declared = httpx.post(f"{root}/agentgym/weights", content=push, headers={VERSION_HEADER: "3"}, timeout=60)
        streamed = httpx.post(f"{root}/agentgym/weights", content=chunks(), headers={VERSION_HEADER: "3"}, timeout=60)
        version = httpx.get(f"{root}/agentgym/info").json()["policy_version"]
    assert declared.status_code == 413 and streamed.status_code == 413, (declared.text, streamed.text)
    assert version == 0 and all(torch.equal(t, before[n]) for n, t in served.model.state_dict().items())


def test_a_json_body_over_the_request_cap_is_413(folder):
    with ServerThread(HFPolicy.from_pretrained(folder, device="cpu"), model_name="m", max_request_bytes=1000) as running:
        big = httpx.post(f"{running.base_url}/chat/completions", timeout=60,
                         json={"messages": [{"role": "user", "content": "x" * 2000}]})
    assert big.status_code == 413 and big.json()["error"]["code"] == "request_too_large"


def test_a_push_with_integer_tensors_is_409_and_changes_nothing(folder):
    served, trained = HFPolicy.from_pretrained(folder, device="cpu"), HFPolicy.from_pretrained(folder, device="cpu")
    weights = WeightSnapshot({n: (t * 100).to(torch.int64) for n, t in snapshot(trained.model).tensors.items()}, False)
    before = {n: t.clone() for n, t in served.model.state_dict().items()}
    with ServerThread(served, model_name="m") as running:
        root = running.base_url.removesuffix("/v1")
        answer = httpx.post(f"{root}/agentgym/weights", content=to_bytes(weights), headers={VERSION_HEADER: "2"},
                            timeout=60)
    assert answer.status_code == 409 and "dtype" in answer.json()["error"]["message"]
    assert all(torch.equal(t, before[n]) for n, t in served.model.state_dict().items())


# ---- the command: a token by default, one-line errors -------------------------------------------------

def _command(*args, env=None, timeout=120):
    env = {k: v for k, v in (env or os.environ).items() if k != TOKEN_ENV}
    return subprocess.run([sys.executable, "-m", "policies.serve", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_the_command_makes_a_weights_token_prints_it_and_requires_it(folder, tmp_path):
    port_file = tmp_path / "port"
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    log = open(tmp_path / "log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "policies.serve", "--model", str(folder), "--name", "m", "--port",
                             "0", "--port-file", str(port_file)], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 120
        while not (port_file.exists() and port_file.read_text()) and time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "log").read_text()
            time.sleep(0.2)
        root = f"http://127.0.0.1:{port_file.read_text()}"
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{root}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        token = next(line.rsplit(": ", 1)[1].strip() for line in (tmp_path / "log").read_text().splitlines()
                     if line.startswith("weights token"))
        push = to_bytes(snapshot(HFPolicy.from_pretrained(folder, device="cpu").model))
        without = httpx.post(f"{root}/agentgym/weights", content=push, headers={VERSION_HEADER: "1"}, timeout=60)
        with_it = httpx.post(f"{root}/agentgym/weights", content=push, timeout=60,
                             headers={VERSION_HEADER: "1", TOKEN_HEADER: token})
        assert without.status_code == 403 and with_it.status_code == 200
        assert httpx.get(f"{root}/agentgym/info").json()["weights_need_token"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_a_used_port_and_bad_arguments_are_one_line_errors(folder, tmp_path):
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    used = str(holder.getsockname()[1])
    try:
        cases = {
            "used port": ["--model", str(folder), "--port", used],
            "port out of range": ["--model", str(folder), "--port", "70000"],
            "zero batch": ["--model", str(folder), "--max-batch", "0"],
            "missing token file": ["--model", str(folder), "--weights-token-file", str(tmp_path / "nope")],
            "missing model": ["--model", str(tmp_path / "no_model_here"), "--port", "0"],
            "negative body cap": ["--model", str(folder), "--max-request-mb", "-1"],
        }
        for name, args in cases.items():
            result = _command(*args)
            assert result.returncode != 0, name
            assert "Traceback" not in result.stderr, (name, result.stderr)
            assert len([ln for ln in result.stderr.splitlines() if "error" in ln.lower() or "cannot" in ln]) >= 1, \
                (name, result.stderr)
    finally:
        holder.close()
