"""OpenAIPolicy against a real HTTP server (policies.serve over the tiny model), retries, errors."""

import socket
import threading

import pytest
import torch

from agentgym.core.policy import SamplingParams
from agentgym.rollout.prompts import build_messages
from policies import EndpointUnavailable, OpenAIPolicy, from_spec
from policies.hf import HFPolicy
from policies.serve import ServerThread
from policies.tiny import TinyConfig, build_tiny_model

SMALL = TinyConfig(hidden_size=64, num_layers=2, num_heads=1, num_kv_heads=1, intermediate_size=128,
                   corpus_episodes=16)
PROMPTS = [build_messages(f"Walk to the goal at row {r}, column 3.", f"You are at row 1, column {r}.", (),
                          ["north", "south"]) for r in range(1, 7)]


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    pol = HFPolicy.from_pretrained(build_tiny_model(tmp_path_factory.mktemp("tiny"), cfg=SMALL), device="cpu")
    with torch.no_grad():
        for p in pol.model.parameters():
            p.mul_(3.0)
    return pol


@pytest.fixture(scope="module")
def server(local):
    with ServerThread(local, model_name="tiny") as srv:
        yield srv


def test_greedy_over_http_matches_local_generation(local, server):
    remote = from_spec(f"openai:tiny@{server.base_url}", concurrency=4, logprobs=True,
                       extra_body={"return_token_ids": True})
    greedy = SamplingParams(greedy=True, max_new_tokens=8)
    want = local.generate(PROMPTS, greedy)
    got = remote.generate(PROMPTS, greedy)
    assert [g.text for g in got] == [w.text for w in want]
    assert [g.token_ids for g in got] == [w.token_ids for w in want]
    assert [g.prompt_ids for g in got] == [w.prompt_ids for w in want]
    for g, w in zip(got, want):
        assert g.finish_reason == w.finish_reason
        torch.testing.assert_close(torch.tensor(g.logprobs), torch.tensor(w.logprobs), atol=1e-4, rtol=0)
    remote.close()


def test_stop_string_is_removed_by_the_server_and_restored_by_the_client(local, server):
    free = local.generate(PROMPTS[:1], SamplingParams(greedy=True, max_new_tokens=8))[0]
    stop = local.tokenizer.decode(free.token_ids[:2], skip_special_tokens=True)
    sampling = SamplingParams(greedy=True, max_new_tokens=8, stop=(stop,))
    with OpenAIPolicy("tiny", server.base_url, restore_stop=False) as raw:
        assert raw.generate(PROMPTS[:1], sampling)[0].text == free.text[:free.text.find(stop)]
    with OpenAIPolicy("tiny", server.base_url) as restoring:
        assert restoring.generate(PROMPTS[:1], sampling)[0].text.endswith(stop)


def test_concurrent_sampled_requests_are_batched(server):
    with OpenAIPolicy("tiny", server.base_url, concurrency=6) as remote:
        gens = remote.generate(PROMPTS, SamplingParams(temperature=1.0, max_new_tokens=5, seed=7))
    assert len(gens) == 6 and all(g.finish_reason in ("stop", "length") for g in gens)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_endpoint_fails_clearly():
    url = f"http://127.0.0.1:{free_port()}/v1"
    with OpenAIPolicy("m", url, max_retries=2, backoff=0.01, timeout=2) as remote:
        with pytest.raises(EndpointUnavailable, match=f"{url}.*3 attempts"):
            remote.generate(PROMPTS[:1], SamplingParams(max_new_tokens=2))


def test_client_errors_are_not_retried(server):
    with OpenAIPolicy("not-served", server.base_url, max_retries=3) as remote:
        with pytest.raises(RuntimeError, match="HTTP 404"):
            remote.generate(PROMPTS[:1], SamplingParams(max_new_tokens=2))


def test_retries_with_backoff_after_server_errors():
    """A real server that answers 503 twice, then succeeds."""
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    app, calls = FastAPI(), []

    @app.post("/v1/chat/completions")
    def chat(body: dict):
        calls.append(body)
        if len(calls) < 3:
            return JSONResponse({"error": "busy"}, status_code=503)
        return {"choices": [{"message": {"content": "<action>north"}, "finish_reason": "stop"}]}

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.02)
        with OpenAIPolicy("m", f"http://127.0.0.1:{port}/v1", max_retries=3, backoff=0.01) as remote:
            gen = remote.generate(PROMPTS[:1], SamplingParams(max_new_tokens=4, stop=("</action>",), seed=5))[0]
    finally:
        server.should_exit = True
        thread.join(10)
    assert len(calls) == 3 and gen.text == "<action>north</action>"
    assert calls[0]["stop"] == ["</action>"] and calls[0]["max_tokens"] == 4 and calls[0]["seed"] == 5
