"""``compare``: reports and training runs side by side, with a split-mismatch warning and a plot."""

import json
import subprocess
import sys

import pytest
import yaml

from agentgym.core.policy import Generation
from agentgym.eval import EvalSettings, compare, run_evaluation
from agentgym.rollout.prompts import format_action

ENV = "agentgym/FrozenLake-v0"


class Expert:
    def generate(self, prompts, sampling, infos=None):
        return [Generation(text=format_action(i["expert_action"] or "north")) for i in infos]


class Idle:
    def generate(self, prompts, sampling, infos=None):
        return [Generation(text="<action>wait</action>") for _ in infos]


def _training_run(path, values):
    path.mkdir()
    rows = [{"iteration": i, "rollout/success_rate": 0.1, "eval/success_rate": v, "eval/score": v,
             "eval/episode_len": 5.0, "eval/invalid_action_rate": 0.0} for i, v in enumerate(values)]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (path / "config.yaml").write_text(yaml.safe_dump({"env": ENV, "eval_split": "valid_seen", "eval_episodes": 6,
                                                      "max_steps": None, "env_kwargs": {}}))
    return path


def test_compare_table_plot_and_split_warning(tmp_path):
    settings = EvalSettings(env=ENV, split="valid_seen", episodes=6, pool_workers=1)
    run_evaluation(Expert(), settings, tmp_path / "expert", "expert", progress=False)
    run = _training_run(tmp_path / "gigpo", [0.2, 0.5, 0.75])
    entries, table = compare([tmp_path / "expert", run], out_dir=tmp_path / "cmp")
    assert [e.kind for e in entries] == ["report", "run"]
    assert entries[0].split_hash == entries[1].split_hash  # the same six held-out tasks
    assert entries[1].metrics["success"] == 0.75 and entries[1].curve == [(0, 0.2), (1, 0.5), (2, 0.75)]
    assert "| expert | report |" in table and "| gigpo (iter 2) | run |" in table and "WARNING" not in table
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 5000
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text())[0]["metrics"]["success"] == 1.0

    other = EvalSettings(env=ENV, split="valid_seen", episodes=6, max_steps=2, pool_workers=1)
    run_evaluation(Idle(), other, tmp_path / "idle", "idle", progress=False)
    _, table = compare([tmp_path / "expert", tmp_path / "idle" / "report.json"])
    assert "WARNING: 2 different task sets" in table
    assert "| idle | report |" in table and "| 0.000 |" in table


def test_compare_command_line(tmp_path):
    run = _training_run(tmp_path / "run_a", [0.0, 1.0])
    out = subprocess.run([sys.executable, "-m", "agentgym.eval", "compare", str(run), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "| run_a (iter 1) | run |" in out.stdout and (tmp_path / "o" / "compare.md").exists()
    with pytest.raises(FileNotFoundError):
        compare([tmp_path / "missing"])


def test_training_rows_have_an_interval_and_every_series_its_own_colour(tmp_path):
    from agentgym.eval.compare import series_colors
    from agentgym.eval.stats import wilson_interval

    run = _training_run(tmp_path / "gigpo", [0.2, 0.5])  # no eval report folder: Wilson over its 6 tasks
    entries, table = compare([run])
    assert entries[0].ci95 == wilson_interval(3, 6)
    low, high = wilson_interval(3, 6)
    assert f"{low:.3f}-{high:.3f}" in table
    assert len(set(series_colors(3))) == 3 and len(set(series_colors(14))) == 14


def test_compare_draws_its_plot_without_out(tmp_path):
    run = _training_run(tmp_path / "run_a", [0.0, 1.0])
    out = subprocess.run([sys.executable, "-m", "agentgym.eval", "compare", str(run)], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "runs" / "compare" / "compare.png").stat().st_size > 5000
    assert "plot: runs/compare/compare.png" in out.stdout


def test_learning_curve_legend_names_the_held_out_split(tmp_path):
    from agentgym.util.plots import curve_labels

    run = _training_run(tmp_path / "run", [0.1])
    assert curve_labels(run)["eval/success_rate"] == "held-out tasks: valid_seen (greedy)"
    assert curve_labels(tmp_path)["eval/success_rate"] == "held-out tasks (greedy)"  # no config: generic label
