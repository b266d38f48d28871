"""The HTML trajectory viewer, opened from disk in headless Chromium: filters, step tables, screenshot."""

import json
from pathlib import Path

import pytest

from agentgym.core.policy import Generation
from agentgym.core.types import Step, Trajectory
from agentgym.eval import EvalSettings, records_from_trajectories, run_evaluation, write_viewer
from agentgym.eval.viewer import embed_json
from agentgym.rollout.prompts import format_action

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


class SolvesOnlySmallMaps:
    """Expert on 4x4 maps; elsewhere an unparsable answer (a failure by truncation)."""

    def generate(self, prompts, sampling, infos=None):
        return [Generation(text=format_action(i["expert_action"]) if i["task_type"] == "4x4" else "I dance",
                           entropies=[0.5, 1.5]) for i in infos]


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module (starting it is the slow part)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium at /usr/bin/chromium")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


def _visible(page):
    return page.eval_on_selector_all("details.episode", "els => els.filter(e => !e.hidden).length")


def test_viewer_filters_and_step_tables(tmp_path, browser):
    settings = EvalSettings(env="agentgym/FrozenLake-v0", split="valid_seen", episodes=6, max_steps=12, batch_size=6,
                            pool_workers=1)
    report = run_evaluation(SolvesOnlySmallMaps(), settings, tmp_path, "mixed", progress=False)
    assert report["metrics"]["success_rate"]["mean"] == pytest.approx(2 / 6)  # tasks 0 and 3 are 4x4
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto((tmp_path / "viewer.html").as_uri())
    assert _visible(page) == 6 and page.inner_text("#shown") == "6 of 6 episodes"
    page.select_option("#outcome", "success")
    assert _visible(page) == 2
    page.select_option("#outcome", "failure")
    assert _visible(page) == 4
    page.select_option("#task-type", "4x4")
    assert _visible(page) == 0 and page.inner_text("#shown") == "0 of 6 episodes"
    page.select_option("#outcome", "all")
    page.select_option("#task-type", "5x5")
    assert _visible(page) == 2
    page.select_option("#task-type", "all")
    page.fill("#search", report["task_ids"][0])
    assert _visible(page) == 1
    page.fill("#search", "")
    failing = page.locator("details.episode.failure").first
    failing.locator("summary").click()
    expect = pytest.importorskip("playwright.sync_api").expect  # waits: steps render when an episode opens
    expect(failing.locator("tr.step")).to_have_count(12)  # truncated after max_steps=12
    expect(failing.locator("tr.invalid")).to_have_count(12)
    assert "entropy" in failing.locator("table").inner_text()  # policy gave token entropies
    assert "Task: Walk to the goal" in failing.inner_text()
    shot = tmp_path / "viewer.png"
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    assert shot.stat().st_size > 5000 and not errors


def test_viewer_shows_training_advantages_and_escapes_markup(tmp_path, browser):
    steps = [Step(group_id=0, traj_id=0, t=t, prompt=[], response=f"<action>{a}</action>", action=a, reward=r,
                  state_key=str(t), observation="</script><b>bold?</b>", entropies=[1.0]) for t, (a, r)
             in enumerate([("north", 0.0), ("east", 1.0)])]
    traj = Trajectory(group_id=0, traj_id=0, task_id="t-1", task_type="x", steps=steps, success=True, score=1.0)
    records = records_from_trajectories([traj], seed=3, advantages=[0.25, -0.5])
    assert [s["advantage"] for s in records[0]["steps"]] == [0.25, -0.5] and records[0]["seed"] == 3
    assert "</" not in embed_json(records) and json.loads(embed_json(records)) == records
    path = write_viewer(tmp_path / "train.html", records, {"title": "iteration 7"})
    page = browser.new_page()
    page.goto(path.as_uri())
    page.locator("details.episode summary").click()
    text = page.inner_text("details.episode table")
    page.close()
    assert "advantage" in text and "-0.500" in text and "0.250" in text
    assert "</script><b>bold?</b>" in text  # shown as text, not interpreted as markup
