"""``openenv/Remote-v0`` reads OpenEnv 0.10's task API of a server that is not this project's
(``task_api_server.py``: other split names, harbor-shaped task specs, a bounded ``/tasks`` preview, the task
chosen by ``task_index``), so a held-out evaluation plays exactly the server's held-out tasks."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("openenv")

import agentgym  # noqa: E402
from agentgym.core.policy import Generation  # noqa: E402

SERVER = Path(__file__).resolve().parent / "task_api_server.py"
sys.path.insert(0, str(SERVER.parent))
from task_api_server import SIZES, spec  # noqa: E402


@pytest.fixture(scope="module")
def url(openenv_servers):
    return openenv_servers.start([sys.executable, str(SERVER)])[0]


def test_task_ids_page_through_num_tasks_and_task_range_and_map_our_held_out_split(url):
    env = agentgym.make("openenv/Remote-v0", base_url=url, split="valid_unseen")
    server = env.unwrapped.server
    assert server.splits == ["train", "test"] and server.split_types == {"train": "train", "test": "test"}
    ids = env.unwrapped.task_ids()  # valid_unseen -> the server's one test split; all 1234, not the preview
    assert ids == [spec("test", i)["task_id"] for i in range(SIZES["test"])]
    assert agentgym.make("openenv/Remote-v0", base_url=url, split="train").unwrapped.task_ids()[-1] == "train-0039"
    env.close()


def test_a_reset_by_task_id_plays_that_task(url):
    env = agentgym.make("openenv/Remote-v0", base_url=url, split="valid_unseen")
    for index in (0, 999, 1233):
        want = spec("test", index)
        obs, info = env.reset(seed=5, options={"task_id": want["task_id"]})
        assert obs == f"Task {want['task_id']}: say {want['word']}" and info["task_id"] == want["task_id"]
        assert env.step(want["word"])[1:4] == (1.0, True, False)
    env.close()


class SayWhatIsAsked:
    """Answers the word the latest observation asks for."""

    def generate(self, prompts, sampling=None, infos=None):
        words = [p[-1]["content"].rsplit("say ", 1)[1].split()[0] for p in prompts]
        return [Generation(text=f"<action>{w}</action>", finish_reason="stop") for w in words]


def test_held_out_evaluation_plays_the_servers_test_tasks(url, tmp_path):
    from agentgym.eval.runner import EvalSettings, run_evaluation

    settings = EvalSettings(env="openenv/Remote-v0", env_kwargs={"base_url": url}, split="valid_unseen",
                            episodes=12, batch_size=4)
    report = run_evaluation(SayWhatIsAsked(), settings, tmp_path / "eval", progress=False)
    records = [__import__("json").loads(line) for line in (tmp_path / "eval" / "episodes.jsonl").read_text().splitlines()]
    assert sorted(r["task_id"] for r in records) == [spec("test", i)["task_id"] for i in range(12)]
    assert all(r["success"] for r in records), records[:2]
    assert report is not None
