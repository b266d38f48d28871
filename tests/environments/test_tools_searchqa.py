"""SearchQA-v0: fictional corpus, BM25 search, multi-hop questions, EM/F1 grading, experts."""

import re

import pytest

import agentgym
from environments.tools.corpus import load_world
from environments.tools.protocol import format_call
from environments.tools.search_index import index_for

pytest.importorskip("bm25s")


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("AGENTGYM_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def _run_expert(env, task_id):
    _, info = env.reset(options={"task_id": task_id})
    while True:
        _, reward, terminated, truncated, info = env.step(info["expert_action"])
        if terminated or truncated:
            return reward, info


def test_check_env_valid_unseen():
    agentgym.check_env(agentgym.make("agentgym/SearchQA-v0", split="valid_unseen"), n_random_actions=300)


@pytest.mark.parametrize("split, n", [("train", 60), ("valid_seen", 30), ("valid_unseen", 40)])
def test_expert_solves_sample(split, n):
    env = agentgym.make("agentgym/SearchQA-v0", split=split)
    for task_id in env.unwrapped.task_ids()[:n]:
        reward, info = _run_expert(env, task_id)
        assert info["success"] and reward == 1.0 and info["score"] == 1.0, task_id


@pytest.mark.slow
@pytest.mark.parametrize("split", agentgym.SPLITS)
def test_expert_solves_200_tasks(split):
    env = agentgym.make("agentgym/SearchQA-v0", split=split)
    assert all(_run_expert(env, t)[1]["success"] for t in env.unwrapped.task_ids()[:200])


def test_splits_hold_out_subjects_and_unseen_uses_three_hops_in_another_world():
    ids = {s: set(agentgym.make("agentgym/SearchQA-v0", split=s).unwrapped.task_ids()) for s in agentgym.SPLITS}
    assert not ids["train"] & ids["valid_seen"]
    env = agentgym.make("agentgym/SearchQA-v0", split="valid_unseen")
    _, info = env.reset(seed=0)
    assert info["expert_steps_left"] == 7  # three (search, open) hops, then the answer
    assert set(load_world(2).people).isdisjoint(load_world(1).people)


def test_birth_country_answer_follows_the_documents():
    """Read the chain by hand: the person's article names a city, the city's article names a country."""
    env = agentgym.make("agentgym/SearchQA-v0", split="train")
    env.reset(options={"task_id": "birth_country-0"})
    world = load_world(1)
    person = list(world.people)[0]
    city = re.search(r"in the city of (\w+)\.", world.doc_of(person).text).group(1)
    country = re.search(r"is a city in (\w+) on", world.doc_of(city).text).group(1)
    assert env.unwrapped.question == f"In which country was {person} born?"
    assert env.unwrapped.answer == country


def test_search_ranks_the_entity_article_first_and_open_shows_it():
    index = index_for(1)
    for name in list(index.world.people)[:50] + list(index.world.cities)[:20]:
        assert index.search(name)[0] == index.world.doc_of(name).doc_id
    assert index.search("") == [] and index.search("the of and") == []
    doc = index.world.documents[3]
    assert index.open_text(f"[{doc.doc_id}]").endswith(doc.text)
    assert "no document" in index.open_text("d9999")


def test_wrong_answer_partial_f1_and_f1_reward_option():
    env = agentgym.make("agentgym/SearchQA-v0", split="train", reward="f1")
    env.reset(options={"task_id": "employer_founder-0"})
    truth = env.unwrapped.answer  # a two-word person name
    first_name = truth.split()[0]
    obs, reward, terminated, _, info = env.step(format_call("submit_answer", answer=first_name))
    # one of two gold tokens, one predicted token: precision 1, recall 1/2 -> F1 2/3
    assert terminated and not info["success"] and info["score"] == pytest.approx(2 / 3)
    assert reward == pytest.approx(2 / 3) and truth in obs


def test_state_key_tracks_searches_not_their_order():
    env = agentgym.make("agentgym/SearchQA-v0", split="valid_seen")
    task = {"task_id": env.unwrapped.task_ids()[0]}
    a, b = format_call("search", query="Alpha"), format_call("open", doc_id="d0001")
    env.reset(options=task)
    env.step(a)
    _, _, _, _, info_ab = env.step(b)
    env.reset(options=task)
    env.step(b)
    _, _, _, _, info_ba = env.step(format_call("search", query="  alpha "))
    assert info_ab["state_key"] == info_ba["state_key"]
