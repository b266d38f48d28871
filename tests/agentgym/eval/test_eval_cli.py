"""``python -m agentgym.eval``: flags, prompt settings inherited from a training run, exit codes, Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from agentgym.core.policy import Generation
from agentgym.eval import cli
from agentgym.rollout.prompts import format_action

ENV = "agentgym/FrozenLake-v0"
ROOT = Path(__file__).resolve().parents[3]


class Expert:
    def generate(self, prompts, sampling, infos=None):
        return [Generation(text=format_action(i["expert_action"] or "north")) for i in infos]


def test_cli_runs_and_resumes_with_a_scripted_policy(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "load_policy", lambda spec, env_id=None, dtype=None: Expert())
    argv = ["--env", ENV, "--split", "valid_unseen", "--policy", "expert", "--episodes", "4", "--seeds", "2",
            "--pass-k", "1,2", "--out", str(tmp_path), "--quiet", "--pool-workers", "1"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "| success rate | 1.000 |" in printed and "| pass@2 | 1.000 |" in printed
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["split"]["name"] == "valid_unseen" and report["metrics"]["episodes"] == 8
    assert set(report["by_task_type"]) == {"7x7", "8x8"} and report["protocol"]["greedy"]
    with pytest.raises(SystemExit, match="already holds episodes: pass --resume"):  # not a traceback
        cli.main(argv)
    assert cli.main([*argv, "--resume"]) == 0  # nothing left to play: the report is rewritten as is
    assert json.loads((tmp_path / "report.json").read_text()) == report


@pytest.mark.parametrize("flags, message", [
    (["--episodes", "0"], "--episodes must be >= 1, got 0"),
    (["--batch-size", "-1"], "--batch-size must be >= 1"),
    (["--pool-workers", "0"], "--pool-workers must be >= 1"),
    (["--history-len", "-1"], "--history-len must be >= 0"),
    (["--temperature", "-1"], "--temperature must be >= 0"),
    (["--max-steps", "-5"], "--max-steps must be >= 1"),  # once cut every episode after one step: success 0.000
    (["--max-new-tokens", "0"], "--max-new-tokens must be >= 1"),
    (["--seeds", "2", "--pass-k", "3"], "pass@3 needs seeds >= 3"),
    (["--env-kwargs", "{bogus: 1}"], "unexpected keyword argument 'bogus'"),
    (["--policy", "runs/no_such_run/final_policy"], "no such folder"),
])
def test_user_errors_are_one_line_messages(flags, message, tmp_path):
    argv = ["--env", ENV, "--split", "valid_seen", "--policy", "random", "--episodes", "2", "--out", str(tmp_path),
            "--quiet", *flags]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert message in str(exit_info.value)


def test_prompt_settings_come_from_the_policys_training_run(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints" / "iter_4" / "policy").mkdir(parents=True)
    (run / "metrics.jsonl").write_text("")
    (run / "config.yaml").write_text(yaml.safe_dump({"history_len": 5, "show_admissible": False,
                                                     "max_new_tokens": 96, "lr": 1e-5}))
    spec = str(run / "checkpoints" / "iter_4" / "policy")
    args = cli.build_parser().parse_args(["--env", ENV, "--policy", spec, "--history-len", "1"])
    settings = cli.settings_from_args(args)
    assert (settings.history_len, settings.show_admissible, settings.max_new_tokens) == (1, False, 96)
    plain = cli.settings_from_args(cli.build_parser().parse_args(["--env", ENV, "--policy", "expert"]))
    # no run and no flag: the environment's prompt_history_len (FrozenLake is fully observed: 0), and the
    # response budget and greedy decoding of the trainer's own held-out checks (EpisodeSettings)
    assert (plain.history_len, plain.show_admissible, plain.max_new_tokens) == (0, True, 24)
    assert plain.temperature == 0.0 and plain.sampling(seed=0).greedy
    assert cli.default_out(settings, args.policy).parts[:2] == ("runs", "eval")


SLOW_EXPERT_CLI = """
import signal, sys, time
# a shell starts background jobs with SIGINT ignored, and children inherit that; the CLI under test
# must see Ctrl-C however pytest itself was launched
signal.signal(signal.SIGINT, signal.default_int_handler)
from agentgym.eval import cli
from agentgym.core.policy import Generation
from agentgym.rollout.prompts import format_action

class SlowExpert:
    calls = 0

    def generate(self, prompts, sampling, infos=None):
        # fast at first, then slow (unless resuming): a SIGINT sent once 4 episodes are logged lands
        # mid-run however loaded the machine is
        SlowExpert.calls += 1
        time.sleep(0.02 if SlowExpert.calls <= 12 or "--resume" in sys.argv else 0.5)
        return [Generation(text=format_action(i["expert_action"])) for i in infos]

cli.load_policy = lambda spec, env_id=None, dtype=None: SlowExpert()
sys.exit(cli.main(sys.argv[1:]))
"""


def test_ctrl_c_keeps_finished_episodes_and_resume_completes(tmp_path):
    """A real SIGINT to a running evaluation, then the same command with --resume."""
    cmd = [sys.executable, "-c", SLOW_EXPERT_CLI, "--env", ENV, "--split", "valid_seen", "--policy", "expert",
           "--episodes", "40", "--batch-size", "2", "--out", str(tmp_path), "--quiet", "--pool-workers", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "episodes.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and not (log.exists() and log.read_text().count("\n") >= 4):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    kept = log.read_text().count("\n")
    assert proc.returncode == 130 and "--resume" in err and 4 <= kept < 40, err
    done = subprocess.run([*cmd, "--resume"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["complete"] and report["metrics"]["episodes"] == 40
    assert report["metrics"]["success_rate"]["mean"] == 1.0 and log.read_text().count("\n") == 40


def test_policy_specs_resolve_through_policies_from_spec(tmp_path):
    policies = pytest.importorskip("policies")
    if not hasattr(policies, "from_spec"):
        pytest.skip("policies.from_spec has not landed yet")
    out = subprocess.run([sys.executable, "-m", "agentgym.eval", "--env", ENV, "--split", "valid_seen", "--policy",
                          "expert", "--episodes", "5", "--out", str(tmp_path), "--quiet"], cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "report.json").read_text())["metrics"]["success_rate"]["mean"] == 1.0
