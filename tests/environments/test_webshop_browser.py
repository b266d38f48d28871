"""A person's view: headless Chromium completes a goal by clicking; the text env scores it the same."""

import os
import re
from urllib.parse import urlparse

import pytest

import agentgym
from environments.webshop.client import ServerProcess
from environments.webshop.data import ShopConfig, shared_shop
from environments.webshop.expert import plan

CHROMIUM = "/usr/bin/chromium"
SMALL = ShopConfig(num_products=2000)
TASK = "valid_seen-3"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Debian's chromium is not installed at {CHROMIUM}")


@pytest.fixture(scope="module")
def server():
    process = ServerProcess(SMALL)
    yield process
    process.stop()


def shop_in_browser(url, tmp_path):
    """Click through the shop; returns (session id, reward shown on the page, screenshot path)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    local = shared_shop(SMALL)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page()
            page.goto(f"{url}/?task_id={TASK}")
            session_id = urlparse(page.url).path.strip("/")
            instruction = page.inner_text("#instruction-text span")
            goal = local.data.goal_for(TASK)
            assert instruction == goal["instruction_text"]
            target = plan(local, goal)
            page.fill("#search_input", target.query)
            page.click("#search_button")
            for _ in range(target.page - 1):
                page.click("#next")
            page.click(f"a.product-link:text-is('{target.asin}')")
            for _, value in target.options:
                page.click(f"a.option[data-value='{value}']")
            assert page.inner_text("#product-title") == local.data.by_asin[target.asin]["title"]
            screenshot = tmp_path / "webshop_item_page.png"
            page.screenshot(path=str(screenshot), full_page=True)
            print(f"item page screenshot: {screenshot}")
            page.click("#buy-now")
            page.wait_for_selector("#reward pre")
            shown = float(page.inner_text("#reward pre"))
        finally:
            browser.close()
    return session_id, shown, target, screenshot


def test_browser_purchase_matches_text_env(server, tmp_path):
    session_id, shown, target, screenshot = shop_in_browser(server.url, tmp_path)
    assert screenshot.exists() and screenshot.stat().st_size > 1000
    import httpx

    reported = httpx.get(f"{server.url}/api/sessions/{session_id}").json()
    assert reported["done"] and reported["reward"] == pytest.approx(shown, abs=1e-4)

    env = agentgym.make("agentgym/WebShop-v0", split="valid_seen", url=server.url)
    try:
        env.reset(options={"task_id": TASK})
        actions = [f"search[{target.query}]"] + ["click[Next >]"] * (target.page - 1) + [f"click[{target.asin}]"]
        actions += [f"click[{value}]" for _, value in target.options] + ["click[Buy Now]"]
        for action in actions:
            obs, reward, terminated, _, info = env.step(action)
            assert info["action_valid"], (action, obs)
        assert terminated and info["score"] == pytest.approx(reported["reward"]) and reward == info["score"]
        assert re.search(r"Your score .*\n1\.0000", obs)
    finally:
        env.close()
