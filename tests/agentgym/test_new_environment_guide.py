"""docs/new_environment.md's example must keep working."""

import importlib.util
from pathlib import Path

import agentgym

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "guess_number.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("guess_number_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_environment_passes_check_env():
    _load_example()
    for split in agentgym.SPLITS:
        agentgym.check_env(agentgym.make("examples/GuessNumber-v0", split=split))


def test_check_env_reports_what_it_checked_when_everything_passes(capsys):
    _load_example()
    env = agentgym.make("examples/GuessNumber-v0", split="train")
    report = agentgym.check_env(env, seeds=(0, 1), n_random_actions=50)
    for seed in (0, 1):  # the expert's steps, counted again by hand
        _, info = env.reset(seed=seed)
        steps, done = 0, False
        while not done:
            _, _, terminated, truncated, info = env.step(info["expert_action"])
            steps, done = steps + 1, terminated or truncated
        assert report.expert_steps[seed] == steps
    assert report.env == "examples/GuessNumber-v0" and report.adversarial_actions == 50 and report.gymnasium_checked
    printed = capsys.readouterr().out.strip()
    assert printed == str(report) and printed.startswith("check_env: examples/GuessNumber-v0 passed in ")
    assert f"the expert solves seeds [0, 1] in {[report.expert_steps[0], report.expert_steps[1]]} steps" in printed
    quiet = agentgym.check_env(env, seeds=(0,), n_random_actions=5, check_expert=False, verbose=False)
    assert capsys.readouterr().out == "" and not quiet.expert_steps and "no expert checked" in str(quiet)


def test_example_hint_narrows_the_range_and_state_key_follows():
    _load_example()
    env = agentgym.make("examples/GuessNumber-v0", split="train")
    _, info = env.reset(options={"task_id": "100-42"})
    assert info["state_key"] == "between 1 and 100" and info["expert_action"] == "guess 50"
    obs, reward, terminated, _, info = env.step("guess 50")
    assert obs == "Go lower. The number is between 1 and 49." and reward == 0.0 and not terminated
    assert info["state_key"] == "between 1 and 49"
    obs, *_ , info = env.step("fifty")
    assert info["action_valid"] is False and "guess N" in obs


EXAMPLES = EXAMPLE.parent
NO_EXPERT = '''
from guess_number import GuessNumber
import agentgym


class SilentGuess(GuessNumber):
    has_expert = False

    def state_info(self):
        return {**super().state_info(), "expert_action": None, "expert_steps_left": None}


agentgym.register("examples/SilentGuess-v0", entry_point=SilentGuess)
'''


def _cli(args, tmp_path, **env):
    import os
    import subprocess
    import sys

    path = os.pathsep.join([str(EXAMPLES), str(tmp_path)])
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": path, **env})


def test_the_guides_command_lines_train_and_evaluate_the_example(micro_model, tmp_path):
    env_id = "guess_number:examples/GuessNumber-v0"  # the form docs/new_environment.md writes
    listed = _cli(["agentgym.envs", "--module", "guess_number", "--namespace", "examples"], tmp_path)
    assert listed.returncode == 0 and "examples/GuessNumber-v0  50" in listed.stdout, listed.stderr
    run = tmp_path / "run"
    trained = _cli(["agentgym.train", "--env", env_id, "--model", micro_model, "--iterations", "1", "--num-groups", "2",
                    "--group-size", "2", "--eval-every", "0", "--eval-at-start", "false", "--max-new-tokens", "8",
                    "--tensorboard", "false", "--progress-bar", "false", "--run-dir", str(run)], tmp_path)
    assert trained.returncode == 0, trained.stderr[-2000:]
    evaluated = _cli(["agentgym.eval", "--env", env_id, "--split", "valid_unseen", "--episodes", "3", "--quiet",
                      "--policy", str(run / "final_policy"), "--out", str(tmp_path / "eval")], tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert (tmp_path / "eval" / "report.json").exists()


def test_an_environment_without_an_expert_needs_a_model_and_trains_from_one(micro_model, tmp_path):
    (tmp_path / "silent_guess.py").write_text(NO_EXPERT)
    env_id = "silent_guess:examples/SilentGuess-v0"
    flags = ["--iterations", "1", "--num-groups", "2", "--group-size", "2", "--eval-every", "0", "--eval-at-start",
             "false", "--max-new-tokens", "8", "--tensorboard", "false", "--progress-bar", "false"]
    refused = _cli(["agentgym.train", "--env", env_id, "--run-dir", str(tmp_path / "a"), *flags], tmp_path)
    assert refused.returncode != 0 and "has no expert" in refused.stderr and "--model" in refused.stderr
    trained = _cli(["agentgym.train", "--env", env_id, "--model", micro_model, "--run-dir", str(tmp_path / "b"),
                    *flags], tmp_path)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert (tmp_path / "b" / "final_policy" / "config.json").exists()
