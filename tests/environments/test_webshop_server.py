"""The shop server: bad input gives clear 4xx answers, HTML and API agree, HTTP mode cleans up."""

import os
import re
import threading

import pytest
from fastapi.testclient import TestClient

import agentgym
from environments.webshop.client import shared_app
from environments.webshop.data import ShopConfig, shared_shop
from environments.webshop.expert import plan
from environments.webshop.shop import Shop

SMALL = ShopConfig(num_products=2000)


@pytest.fixture(scope="module")
def client():
    with TestClient(shared_app(SMALL), follow_redirects=False) as c:
        yield c


def open_session(client, task_id="train-5"):
    response = client.post("/api/sessions", json={"task_id": task_id})
    assert response.status_code == 201
    return response.json()


def test_bad_api_input_gets_clear_4xx_and_server_keeps_serving(client):
    healthy = open_session(client)
    sid = open_session(client)["session_id"]
    cases = [
        (client.post("/api/sessions", json={"task_id": "nope"}), 400, "Unknown task"),
        (client.post("/api/sessions", json={}), 422, "task_id"),
        (client.post("/api/sessions", content=b"\xff\xfe{", headers={"content-type": "application/json"}), 400,
         "parsing the body"),
        (client.get("/api/sessions/deadbeef"), 404, "Unknown session"),
        (client.post("/api/sessions/deadbeef/step", json={"action": "click[x]"}), 404, "Unknown session"),
        (client.post(f"/api/sessions/{sid}/step", json={"action": 5}), 422, "action"),
        (client.post(f"/api/sessions/{sid}/step", json={"action": "a" * 5000}), 413, "limit"),
    ]
    for response, status, text in cases:
        assert response.status_code == status, response.text
        assert text in response.text
    bad = client.post(f"/api/sessions/{sid}/step", json={"action": "click[no such button]"}).json()
    assert bad["action_valid"] is False and "not a button" in bad["message"] and bad["state_key"] == "index"
    step = client.post(f"/api/sessions/{healthy['session_id']}/step", json={"action": healthy["expert_action"]})
    assert step.status_code == 200 and step.json()["action_valid"] is True
    assert client.delete(f"/api/sessions/{sid}").status_code == 204
    assert client.delete(f"/api/sessions/{sid}").status_code == 404


def test_bad_query_strings_get_4xx(client):
    sid = open_session(client)["session_id"]
    asin = shared_shop(SMALL).data.products[0]["asin"]
    cases = [
        (f"/{sid}/search?q=polo&page=abc", 422), (f"/{sid}/search?q=polo&page=0", 422),
        (f"/{sid}/search?q=polo&page=999", 400), (f"/{sid}/search?q=", 400), (f"/{sid}/search?q={'x' * 600}", 400),
        (f"/{sid}/item/NOPE", 400), (f"/{sid}/item/{asin}?o=garbage", 400), (f"/{sid}/item/{asin}?o=color=plaid", 400),
        (f"/{sid}/item/{asin}/manual", 400), (f"/{sid}/done", 400), ("/nosuchsession/", 404), ("/?task_id=bogus", 400),
    ]
    for path, status in cases:
        response = client.get(path)
        assert response.status_code == status, (path, response.status_code, response.text[:200])
        if status == 400:
            assert re.search(r"id='error'>.+<", response.text) or "detail" in response.text
    assert client.post(f"/{sid}/buy/{asin}", content=b"o=nonsense").status_code == 400
    assert client.get(f"/{sid}/").status_code == 200  # the session still works


def test_html_purchase_scores_like_the_api(client):
    view = open_session(client, "valid_seen-3")
    sid = view["session_id"]
    shop = shared_shop(SMALL)
    target = plan(shop, shop.get(sid).goal)
    page = client.get(f"/{sid}/search", params={"q": target.query, "page": target.page})
    assert page.status_code == 200 and target.asin in page.text and view["task"] in page.text
    item = client.get(f"/{sid}/item/{target.asin}", params=[("q", target.query), ("page", target.page)]
                      + [("o", f"{n}={v}") for n, v in target.options])
    assert item.status_code == 200 and 'id="buy-now"' in item.text
    bought = client.post(f"/{sid}/buy/{target.asin}", data={"o": [f"{n}={v}" for n, v in target.options]})
    assert bought.status_code == 303 and bought.headers["location"] == f"/{sid}/done"
    done = client.get(f"/{sid}/done")
    shown = float(re.search(r'<div id="reward"><pre>([0-9.]+)</pre>', done.text).group(1))
    api = client.get(f"/api/sessions/{sid}").json()
    assert shown == pytest.approx(api["reward"], abs=1e-4) and api["reward"] == 1.0 and api["done"]
    assert client.get(f"/{sid}/search?q=polo").status_code == 400  # no shopping after buying


def test_new_browser_session_redirects(client):
    response = client.get("/")
    assert response.status_code == 303 and re.fullmatch(r"/[0-9a-f]{24}/", response.headers["location"])


def test_env_turns_server_refusals_into_invalid_actions():
    env = agentgym.make("agentgym/WebShop-v0", num_products=2000)
    try:
        env.reset(seed=0)
        obs, reward, terminated, truncated, info = env.step("search[" + "x" * 5000 + "]")
        assert info["action_valid"] is False and "limit" in obs and not terminated and reward == 0.0
        assert obs.endswith("[Search]")  # the page is still shown
    finally:
        env.close()


def test_idle_and_surplus_sessions_are_evicted():
    shop = Shop(shared_shop(SMALL).data, max_sessions=3)
    ids = [shop.open("train-1").session_id for _ in range(5)]
    assert len(shop) == 3 and shop.get(ids[-1]) and ids[0] not in shop._sessions
    shop.idle_ttl = 0.0
    shop.open("train-2")
    assert len(shop) == 1


def open_fds():
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.timeout(300)
def test_http_mode_concurrent_sessions_then_no_leaks():
    """Eight environments share one server process over HTTP; closing the last one stops it."""
    before_fds, before_threads = open_fds(), threading.active_count()
    envs = [agentgym.make("agentgym/WebShop-v0", mode="http", num_products=2000) for _ in range(8)]
    errors, scores = [], []

    def shop_twice(env, seed):
        try:
            for episode in range(2):
                _, info = env.reset(seed=seed * 10 + episode)
                while True:
                    _, _, terminated, truncated, info = env.step(info["expert_action"])
                    if terminated or truncated:
                        break
                scores.append(info["score"])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=shop_twice, args=(env, i)) for i, env in enumerate(envs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    server = __import__("environments.webshop.client", fromlist=["_SERVERS"])._SERVERS[SMALL][0]
    for env in envs:
        env.close()
    assert not errors and scores == [1.0] * 16
    assert server.process.poll() is not None  # the server process has exited
    # a leak adds; daemon threads of earlier tests may finish meanwhile, so fewer is fine
    assert open_fds() <= before_fds and threading.active_count() <= before_threads


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_server_exits_when_its_parent_is_killed(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    script = ("import os, signal\nfrom environments.webshop.client import ServerProcess\n"
              "from environments.webshop.data import ShopConfig\n"
              "s = ServerProcess(ShopConfig(num_products=2000))\nprint(s.process.pid, flush=True)\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240)
    assert child.returncode == -signal.SIGKILL
    server_pid = int(child.stdout.split()[0])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and os.path.exists(f"/proc/{server_pid}"):
        state = open(f"/proc/{server_pid}/stat").read().split()[2] if os.path.exists(f"/proc/{server_pid}") else "X"
        if state == "Z":
            break
        time.sleep(0.5)
    alive = os.path.exists(f"/proc/{server_pid}") and open(f"/proc/{server_pid}/stat").read().split()[2] != "Z"
    assert not alive
