"""policies.serve as a generation engine: token-id completions, the weight route, policy versions."""

import httpx
import pytest
import torch

from agentgym.core.policy import SamplingParams
from agentgym.rollout.prompts import build_messages
from policies.hf import HFPolicy
from policies.serve import VERSION_HEADER, ServerThread
from policies.tiny import TinyConfig, build_tiny_model
from policies.weights import snapshot, to_bytes

SMALL = TinyConfig(hidden_size=64, num_layers=1, num_heads=1, num_kv_heads=1, intermediate_size=64, corpus_episodes=4)
PROMPTS = [build_messages(f"Walk to row {r}.", f"You are at row 1, column {r}.", (), ["north", "south"])
           for r in range(1, 5)]
GREEDY = SamplingParams(greedy=True, max_new_tokens=6)


@pytest.fixture()
def policies(tmp_path):
    folder = build_tiny_model(tmp_path / "m", cfg=SMALL)
    return HFPolicy.from_pretrained(folder, device="cpu"), HFPolicy.from_pretrained(folder, device="cpu")


def _complete(base_url, prompt_ids, **extra):
    body = {"prompt": prompt_ids, "max_tokens": 6, "temperature": 0, "logprobs": 0, "return_token_ids": True,
            "include_stop_str_in_output": True, **extra}
    response = httpx.post(f"{base_url}/completions", json=body, timeout=60)
    response.raise_for_status()
    return response.json()


def test_token_id_completions_answer_every_prompt_in_order_with_ids_and_logprobs(policies):
    trained, served = policies
    ids = trained.encode_prompts(PROMPTS)
    want = trained.generate_ids(ids, GREEDY)
    with ServerThread(served, model_name="m") as server:
        data = _complete(server.base_url, ids)
        single = _complete(server.base_url, ids[0])  # one prompt as a bare id list
    assert [c["index"] for c in data["choices"]] == [0, 1, 2, 3]
    for choice, gen, prompt in zip(data["choices"], want, ids):
        assert choice["prompt_token_ids"] == prompt
        assert choice["token_ids"] == gen.token_ids
        assert choice["agentgym_policy_version"] == 0
        torch.testing.assert_close(torch.tensor(choice["logprobs"]["token_logprobs"]), torch.tensor(gen.logprobs),
                                   atol=1e-5, rtol=0)
    assert single["choices"][0]["token_ids"] == want[0].token_ids
    assert data["usage"]["completion_tokens"] == sum(len(g.token_ids) for g in want)


def test_pushed_weights_are_served_under_their_version(policies):
    trained, served = policies
    ids = trained.encode_prompts(PROMPTS)
    with torch.no_grad():
        for p in trained.model.parameters():
            p.mul_(4.0)  # an "update" big enough to change greedy responses
    want = [g.token_ids for g in trained.generate_ids(ids, GREEDY)]
    with ServerThread(served, model_name="m") as server:
        root = server.base_url.removesuffix("/v1")
        before = [c["token_ids"] for c in _complete(server.base_url, ids)["choices"]]
        assert before != want
        answer = httpx.post(f"{root}/agentgym/weights", content=to_bytes(snapshot(trained.model)),
                            headers={VERSION_HEADER: "7"}, timeout=60)
        assert answer.status_code == 200 and answer.json()["policy_version"] == 7
        data = _complete(server.base_url, ids)
        assert [c["token_ids"] for c in data["choices"]] == want
        assert {c["agentgym_policy_version"] for c in data["choices"]} == {7}
        assert httpx.get(f"{root}/agentgym/info").json()["policy_version"] == 7


def test_bad_weight_pushes_are_refused_and_change_nothing(policies, tmp_path):
    trained, served = policies
    other = HFPolicy.from_pretrained(build_tiny_model(tmp_path / "o", cfg=TinyConfig(
        hidden_size=64, num_layers=2, num_heads=1, num_kv_heads=1, intermediate_size=64, corpus_episodes=4)),
        device="cpu")
    ids = trained.encode_prompts(PROMPTS)
    with ServerThread(served, model_name="m") as server:
        root = server.base_url.removesuffix("/v1")
        before = _complete(server.base_url, ids)["choices"]
        no_version = httpx.post(f"{root}/agentgym/weights", content=to_bytes(snapshot(trained.model)))
        junk = httpx.post(f"{root}/agentgym/weights", content=b"junk", headers={VERSION_HEADER: "1"})
        wrong_model = httpx.post(f"{root}/agentgym/weights", content=to_bytes(snapshot(other.model)),
                                 headers={VERSION_HEADER: "1"})
        bad_prompt = httpx.post(f"{server.base_url}/completions", json={"prompt": [], "max_tokens": 2})
        after = _complete(server.base_url, ids)["choices"]
    assert (no_version.status_code, junk.status_code, wrong_model.status_code) == (400, 400, 409)
    assert "X-Agentgym-Policy-Version" in no_version.text and "missing" in wrong_model.text
    assert bad_prompt.status_code == 400
    assert [c["token_ids"] for c in after] == [c["token_ids"] for c in before]
    assert {c["agentgym_policy_version"] for c in after} == {0}


def test_a_server_with_a_token_takes_weights_only_with_it(policies):
    from policies.weights import TOKEN_HEADER

    trained, served = policies
    push = to_bytes(snapshot(trained.model))
    with ServerThread(served, model_name="m", weights_token="s3cret") as server:
        root = server.base_url.removesuffix("/v1")
        codes = [httpx.post(f"{root}/agentgym/weights", content=push, headers={VERSION_HEADER: "1", **extra}).status_code
                 for extra in ({}, {TOKEN_HEADER: "guess"}, {TOKEN_HEADER: "s3cret"})]
        info = httpx.get(f"{root}/agentgym/info").json()
    assert codes == [403, 403, 200]
    assert info["weights_need_token"] and info["policy_version"] == 1
