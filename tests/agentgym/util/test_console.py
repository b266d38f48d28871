"""The trainer's console: compact iteration lines that fit the terminal, labelled phases, a closing summary."""

import os
import re
import subprocess
import sys
from pathlib import Path

from agentgym.util.console import compact_line, full_table, summary

ROOT = Path(__file__).resolve().parents[3]
METRICS = {"rollout/success_rate": 0.456, "rollout/return_mean": 0.5, "rollout/invalid_action_rate": 0.01,
           "eval/success_rate": 0.43, "loss/kl": 0.00123, "rollout/steps": 654.0, "time/iteration_s": 6.24,
           "loss/grad_norm": 0.25, "rollout/infra_dropped_frac": 0.0, "credit/adv_mean": 0.1}


def test_compact_line_shows_the_watched_metrics_in_order():
    assert compact_line(3, METRICS, total=30, max_width=200) == (
        "[iter 3/30]  success 0.46  return 0.50  invalid 0.01  held-out 0.43  kl 0.0012  steps 654  s/it 6.2"
        "  grad 0.25")


def test_compact_line_fits_the_width_and_raises_infrastructure_alarms_first():
    line = compact_line(3, {**METRICS, "rollout/infra_dropped_frac": 0.25}, total=30, max_width=60)
    assert len(line) <= 60 and line.startswith("[iter 3/30]  infra-dropped 0.25  success 0.46")


def test_full_table_groups_every_metric_within_the_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "50")
    table = full_table(10, {f"loss/term_{i}": float(i) for i in range(12)} | {"credit/adv_mean": 0.1})
    lines = table.splitlines()
    assert lines[1] == "credit/: adv_mean=0.1" and lines[2].startswith("loss/: term_0=0 term_1=1")
    assert all(len(line) <= 50 for line in lines[1:]) and sum("term_" in line for line in lines) >= 3


def test_summary_says_where_held_out_success_went_and_where_the_files_are():
    rows = [{"iteration": 0, "eval/success_rate": 0.25, "eval_valid_unseen/success_rate": 0.05,
             "baseline_random/success_rate": 0.04, "baseline_expert/success_rate": 1.0,
             "baseline_heuristic/success_rate": 0.85, "baseline_heuristic/success_rate_valid_unseen": 0.71},
            {"iteration": 1, "rollout/success_rate": 0.3},
            {"iteration": 30, "rollout/success_rate": 0.5, "eval/success_rate": 0.43,
             "eval_valid_unseen/success_rate": 0.2, "eval_train/success_rate": 0.6}]
    text = summary("runs/x", "agentgym/FrozenLake-v0", "valid_seen", rows, ["valid_unseen"], "runs/x/learning_curve.png")
    assert ("held-out success (valid_seen, greedy): 0.25 at iteration 0 -> 0.43 at iteration 30; "
            "baselines: random 0.04, expert 1.00, heuristic 0.85") in text
    assert ("held-out success (valid_unseen, greedy): 0.05 at iteration 0 -> 0.20 at iteration 30; "
            "baselines: heuristic 0.71") in text
    assert "train rollouts (sampled): 0.30 -> 0.50" in text and "learning curve: runs/x/learning_curve.png" in text
    assert "--env agentgym/FrozenLake-v0 --split SPLIT --policy runs/x/final_policy" in text
    assert "(train" not in text  # only the splits asked for
    resumed = summary("runs/x", "agentgym/FrozenLake-v0", "valid_seen", rows[2:], [], None)
    assert "held-out success (valid_seen, greedy): 0.43 at iteration 30" in resumed


def test_a_short_run_prints_labelled_phases_lines_that_fit_and_a_summary(micro_model, tmp_path):
    cmd = [sys.executable, "-m", "agentgym.train", "--config", str(ROOT / "configs" / "smoke.yaml"), "--model",
           micro_model, "--run-dir", str(tmp_path), "--max-new-tokens", "8", "--max-steps", "6"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "80"})
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert [line.split("]")[0] + "]" for line in lines if line.startswith("[setup]")][:1] == ["[setup]"]
    assert any(line.startswith("[train] 2 iterations of gigpo") for line in lines)
    iteration_lines = [line for line in lines if line.startswith("[iter ")]
    assert [line.split()[1] for line in iteration_lines] == ["0/2]", "1/2]", "2/2]"]
    assert all(len(line) <= 80 for line in iteration_lines)
    assert any(line.startswith("[done] 2 iterations") for line in lines)
    assert any(line.startswith("held-out success (valid_seen, greedy):") for line in lines)
    assert any(line.startswith("held-out success (valid_unseen, greedy):") for line in lines)  # summary_splits
    seen = next(line for line in lines if line.startswith("held-out success (valid_seen, greedy):"))
    unseen = next(line for line in lines if line.startswith("held-out success (valid_unseen, greedy):"))
    for line in (seen, unseen):  # the scripted baselines on the same tasks of both splits
        assert re.search(r"; baselines: random \d\.\d\d, heuristic \d\.\d\d, expert \d\.\d\d$", line), line
    assert "Loading weights" not in out.stderr  # transformers' unlabelled bars are off
