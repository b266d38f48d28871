"""Evaluation runs: the expert's known score, determinism, the split hash, interruption and --resume."""

import json
import random

import pytest

from agentgym.core.policy import Generation
from agentgym.core.registry import make
from agentgym.eval import (
    EpisodeLog,
    EvalSettings,
    fingerprint,
    run_evaluation,
    split_task_ids,
)
from agentgym.eval.held_out import evaluate
from agentgym.rollout.episode import EpisodeSettings
from agentgym.rollout.pool import make_pool
from agentgym.rollout.prompts import format_action
from agentgym.train.held_out_checks import write_training_eval

ENV = "agentgym/FrozenLake-v0"


class Expert:
    def generate(self, prompts, sampling, infos=None):
        return [Generation(text=format_action(i["expert_action"] or "north")) for i in infos]


class SeededRandom:
    """A noisy expert (40% random admissible moves), reproducible from the sampling seed and the prompt."""

    def generate(self, prompts, sampling, infos=None):
        out = []
        for prompt, info in zip(prompts, infos):
            rng = random.Random(f"{sampling.seed}|{prompt[-1]['content']}")
            noisy = rng.random() < 0.4
            move = rng.choice(info["admissible_actions"]) if noisy else info["expert_action"]
            out.append(Generation(text=format_action(move)))
        return out


class PromptHash:
    """Random-looking but seed-free: the move depends on the prompt text only (greedy-like).

    Half the time (decided by the prompt's hash) it plays the expert move, so some tasks succeed.
    """

    def generate(self, prompts, sampling, infos=None):
        out = []
        for p, i in zip(prompts, infos):
            rng = random.Random(p[-1]["content"])
            move = i["expert_action"] if rng.random() < 0.5 else rng.choice(i["admissible_actions"])
            out.append(Generation(text=format_action(move)))
        return out


class StopsAt(Expert):
    """The expert, but a Ctrl-C arrives as soon as ``task_id`` is being played."""

    def __init__(self, task_id):
        self.task_id = task_id

    def generate(self, prompts, sampling, infos=None):
        if any(i["task_id"] == self.task_id for i in infos):
            raise KeyboardInterrupt
        return super().generate(prompts, sampling, infos)


def _settings(**kw):
    return EvalSettings(env=ENV, **{"split": "valid_seen", "episodes": 10, "batch_size": 4, "pool_workers": 1, **kw})


def test_expert_scores_its_known_value(tmp_path):
    report = run_evaluation(Expert(), _settings(), tmp_path, "expert", progress=False)
    env = make(ENV, split="valid_seen")
    ids = list(env.unwrapped.task_ids())[:10]
    optimal = [env.reset(options={"task_id": t})[1]["expert_steps_left"] for t in ids]
    m = report["metrics"]
    assert m["success_rate"]["mean"] == 1.0 and m["score"]["mean"] == 1.0 and m["episodes"] == 10
    assert m["steps"] == pytest.approx(sum(optimal) / 10)  # shortest paths, computed independently
    assert m["invalid_action_rate"] == 0.0 and report["complete"]
    assert report["task_ids"] == ids and report["split"]["evaluated"] == 10 and report["split"]["num_tasks"] == 100
    assert sum(row["episodes"] for row in report["by_task_type"].values()) == 10
    assert set(report["by_task_type"]) == {"4x4", "5x5", "6x6"}
    for name in ("summary.md", "viewer.html", "episodes.jsonl"):
        assert (tmp_path / name).stat().st_size > 0
    assert "| success rate | 1.000 |" in (tmp_path / "summary.md").read_text()


def test_same_evaluation_as_the_trainers_held_out_check(tmp_path):
    """Seed 0, greedy: the report's flat metrics equal agentgym.eval.held_out.evaluate's."""
    report = run_evaluation(PromptHash(), _settings(seeds=1), tmp_path, "hash", progress=False)
    assert 0 < report["metrics"]["success_rate"]["mean"] < 1
    pool = make_pool(ENV, "valid_seen", 10, backend="thread")
    result = evaluate(PromptHash(), pool, "valid_seen", episodes=10)
    pool.close()
    expected = result.metrics("eval/")
    assert set(report["flat"]) <= set(expected)
    for key, value in report["flat"].items():
        assert value == pytest.approx(expected[key]), key
    # the trainer's EvalResult becomes the same full report, without replaying anything
    from_training = write_training_eval(tmp_path / "run", 7, result, EpisodeSettings(env=ENV), policy_spec="hash")
    assert from_training == report
    episodes = EpisodeLog(tmp_path / "run" / "eval" / "iter_7" / "episodes.jsonl").read()
    assert [e["task"] for e in episodes] == [e["task"] for e in EpisodeLog(tmp_path / "episodes.jsonl").read()]
    assert (tmp_path / "run" / "eval" / "iter_7" / "viewer.html").exists()


def test_deterministic_policy_gives_identical_reports(tmp_path):
    a = run_evaluation(SeededRandom(), _settings(seeds=2, pass_k=(1, 2)), tmp_path / "a", "random", progress=False)
    b = run_evaluation(SeededRandom(), _settings(seeds=2, pass_k=(1, 2)), tmp_path / "b", "random", progress=False)
    assert (tmp_path / "a" / "report.json").read_bytes() == (tmp_path / "b" / "report.json").read_bytes()
    assert (tmp_path / "a" / "episodes.jsonl").read_bytes() == (tmp_path / "b" / "episodes.jsonl").read_bytes()
    assert a == b and 0.0 < a["metrics"]["success_rate"]["mean"] < 1.0  # noisy play: some wins, some losses
    assert set(a["metrics"]["success_rate"]["per_seed"]) == {"0", "1"}
    assert a["metrics"]["pass_at_k"]["2"] >= a["metrics"]["pass_at_k"]["1"]


def test_split_hash_covers_ids_kwargs_and_split():
    ids = split_task_ids(ENV, "valid_seen")
    base = fingerprint(ENV, "valid_seen", {}, ids)
    assert base == fingerprint(ENV, "valid_seen", {}, split_task_ids(ENV, "valid_seen"))
    assert base != fingerprint(ENV, "valid_seen", {}, list(reversed(ids)))
    assert base != fingerprint(ENV, "valid_unseen", {}, ids)
    small = split_task_ids(ENV, "valid_seen", {"num_tasks": 5})
    assert small == ids[:5] and fingerprint(ENV, "valid_seen", {"num_tasks": 5}, small) != base


def test_interrupted_evaluation_keeps_finished_episodes_and_resume_completes(tmp_path):
    ids = split_task_ids(ENV, "valid_seen")[:10]
    with pytest.raises(KeyboardInterrupt):  # batch 1 = ids[0:4] finishes, batch 2 is cut off
        run_evaluation(StopsAt(ids[5]), _settings(), tmp_path / "cut", "expert", progress=False)
    kept = EpisodeLog(tmp_path / "cut" / "episodes.jsonl").read()
    assert [r["task_id"] for r in kept] == ids[:4]
    with pytest.raises(FileExistsError):
        run_evaluation(Expert(), _settings(), tmp_path / "cut", "expert", progress=False)
    with pytest.raises(ValueError, match="different settings"):
        run_evaluation(Expert(), _settings(episodes=8), tmp_path / "cut", "expert", resume=True, progress=False)
    resumed = run_evaluation(Expert(), _settings(), tmp_path / "cut", "expert", resume=True, progress=False)
    fresh = run_evaluation(Expert(), _settings(), tmp_path / "fresh", "expert", progress=False)
    assert resumed == fresh and resumed["complete"]
    assert len(EpisodeLog(tmp_path / "cut" / "episodes.jsonl").read()) == 10  # nothing replayed twice


def test_torn_last_line_is_dropped_and_replayed(tmp_path):
    run_evaluation(Expert(), _settings(episodes=3), tmp_path, "expert", progress=False)
    log = tmp_path / "episodes.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:2]) + lines[2][:40])  # killed in the middle of writing episode 3
    assert len(EpisodeLog(log).read()) == 2
    report = run_evaluation(Expert(), _settings(episodes=3), tmp_path, "expert", resume=True, progress=False)
    assert report["complete"] and report["metrics"]["episodes"] == 3
    assert [json.loads(line)["task_id"] for line in log.read_text().splitlines()] == report["task_ids"]
