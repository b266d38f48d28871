"""bench/learning.py's bookkeeping: result folders named by every setting, intervals worked by hand."""

import argparse
import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "learning.py"
SPEC = importlib.util.spec_from_file_location("learning_bench", BENCH)
learning = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(learning)


def _args(**changes):
    base = dict(env_steps=10000, eval_every=5, eval_episodes=100, env_kwargs={}, max_steps=None, train_flags=[],
                seeds="0,1,2", target=0.6, metric="success_rate")
    return argparse.Namespace(**{**base, **changes})


def test_runs_with_different_settings_never_share_a_folder():
    env = "agentgym/TextWorld-CoinCollector-v0"
    same = learning.results_dir(env, _args())
    assert learning.results_dir(env, _args()) == same
    others = [_args(env_kwargs={"num_tasks": 200}), _args(max_steps=15), _args(env_steps=8000),
              _args(train_flags=["--history-len", "2"]), _args(eval_episodes=50)]
    folders = {learning.results_dir(env, a) for a in others}
    assert same not in folders and len(folders) == len(others)
    assert same.parent.name == "agentgym--TextWorld-CoinCollector-v0" and same.name.startswith("steps10000-")


def test_table_has_t_intervals_and_paired_differences():
    rows = [dict(method="grpo", valid_seen=[0.4, 0.5, 0.6], valid_unseen=[0.1, 0.1, 0.1],
                 steps_to_target=[float("nan")] * 3, iteration_s=2.0),
            dict(method="hgpo", valid_seen=[0.5, 0.5, 0.7], valid_unseen=[0.2, 0.1, 0.3],
                 steps_to_target=[300.0, float("nan"), 500.0], iteration_s=2.5)]
    table = learning.markdown("env", rows, _args())
    # std of [0.4, 0.5, 0.6] is 0.1: half-width 4.303 * 0.1 / sqrt(3) = 0.248
    assert "| grpo | 0.500 ± 0.248 (0.40, 0.50, 0.60) |" in table
    assert "| 400 (2/3 runs) |" in table
    # paired differences [0.1, 0.0, 0.1] (valid_seen): mean 0.067, std 0.0577, half-width 0.143
    assert "| hgpo - grpo | 0.067 ± 0.143 (0.10, 0.00, 0.10) |" in table


@pytest.mark.parametrize("values, text", [([0.25], "0.250 (0.25)")])
def test_one_seed_has_no_interval(values, text):
    assert learning._interval(values) == text


def test_recipes_run_from_their_environments_preset_and_estimators_by_name():
    preset = learning.method_flags("loop", "agentgym/SQL-v0")
    assert preset[0] == "--config" and Path(preset[1]).name == "sql_loop.yaml"
    assert learning.method_flags("gigpo+empg") == ["--credit", "gigpo", "--modifiers", "empg"]
    assert learning.method_flags("ppo") == ["--credit", "gae", "--critic-enabled", "true"]
    with pytest.raises(SystemExit, match="no configs/\\*_loop.yaml preset has env 'agentgym/Nowhere-v0'"):
        learning.method_flags("loop", "agentgym/Nowhere-v0")
    with pytest.raises(SystemExit, match="unknown credit estimator 'lop'"):
        learning.method_flags("lop")


def test_baselines_sit_below_the_methods_and_ones_an_environment_lacks_are_left_out(monkeypatch, tmp_path):
    monkeypatch.setattr(learning, "RESULTS", tmp_path)
    asked = []

    def fake_eval(run_dir, env_id, split, episodes, args, policy=None):
        asked.append((run_dir.name, split, policy))
        return {"valid_seen": 0.86, "valid_unseen": 0.73}[split]

    monkeypatch.setattr(learning, "final_eval", fake_eval)
    # SQL has an expert, but no list of admissible actions to choose from at random, and no hand-written rule
    rows = learning.baseline_rows("agentgym/SQL-v0", _args(baselines="random,heuristic,expert"))
    assert [r["method"] for r in rows] == ["baseline: expert"]
    assert asked == [("expert", "valid_seen", "expert"), ("expert", "valid_unseen", "expert")]
    lake = learning.baseline_rows("agentgym/FrozenLake-v1", _args(baselines="heuristic"))
    method = [dict(method="gigpo", valid_seen=[0.9, 0.9], valid_unseen=[0.8, 0.8], steps_to_target=[1.0, 1.0],
                   iteration_s=1.0)]
    table = learning.markdown("agentgym/FrozenLake-v1", method, _args(), lake)
    lines = table.splitlines()
    assert lines.index("| baseline: heuristic | 0.860 | 0.730 | | |") > lines.index(
        next(line for line in lines if line.startswith("| gigpo |")))


def test_paired_difference_has_a_bootstrap_interval_over_seeds_and_tasks(tmp_path):
    # GiGPO gains exactly one of the two tasks on every seed: each seed's difference is 0.5, and resampling the
    # tasks gives means 0, 0.5 and 1 (chances 1/4, 1/2, 1/4), so the 95% bootstrap interval is [0, 1]
    grpo = dict(method="grpo", valid_seen=[0.5] * 3, valid_unseen=[0.0] * 3, steps_to_target=[1.0] * 3,
                iteration_s=1.0, valid_seen_tasks=[{"a": 0.0, "b": 1.0}] * 3,
                valid_unseen_tasks=[{"a": 0.0, "b": 0.0}] * 3)
    gigpo = dict(method="gigpo", valid_seen=[1.0] * 3, valid_unseen=[0.5] * 3, steps_to_target=[1.0] * 3,
                 iteration_s=1.0, valid_seen_tasks=[{"a": 1.0, "b": 1.0}] * 3,
                 valid_unseen_tasks=[{"a": 1.0, "b": 0.0}] * 3)
    table = learning.markdown("env", [grpo, gigpo], _args())
    assert "| +0.500 [+0.000, +1.000] | +0.500 [+0.000, +1.000] |" in table
    bad = dict(gigpo, valid_seen_tasks=[{"a": 1.0, "c": 1.0}] * 3)
    with pytest.raises(SystemExit, match="different tasks"):
        learning.markdown("env", [grpo, bad], _args())
    # the per-task scores come from the final evaluation's episodes (the mean over a task's episodes)
    folder = tmp_path / "final_eval_valid_seen"
    folder.mkdir()
    (folder / "episodes.jsonl").write_text(
        '{"task_id": "a", "success": true, "score": 1.0}\n{"task_id": "a", "success": false, "score": 0.5}\n'
        '{"task_id": "b", "success": false, "score": 0.25}\n')
    assert learning.task_scores(tmp_path, "valid_seen", _args()) == {"a": 0.5, "b": 0.0}
    assert learning.task_scores(tmp_path, "valid_seen", _args(metric="score")) == {"a": 0.75, "b": 0.25}
