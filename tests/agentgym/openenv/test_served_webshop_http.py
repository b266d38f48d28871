"""OpenEnv's HTTP ``/reset`` and ``/step`` run the environment inside the server's event loop; a served WebShop
once answered 500 there because its in-process shop ran a private loop with ``run_until_complete``."""

import pytest

pytest.importorskip("openenv")


def test_http_reset_and_step_of_a_served_webshop(openenv_servers):
    import httpx

    url, _ = openenv_servers.serve_env("agentgym/WebShop-v0", "--split", "valid_seen", "--env-kwargs",
                                       "{num_products: 2000}")
    reply = httpx.post(f"{url}/reset", json={"seed": 3}, timeout=120)
    assert reply.status_code == 200, reply.text
    observation = reply.json()["observation"]
    assert observation["text"].startswith("Instruction:") and observation["info"]["task_id"].startswith("valid_seen-")
    assert observation["info"]["expert_action"].startswith("search[")
