"""The trainer end to end on a micro model: CLI smoke run, and resume after a real kill."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from agentgym.train import checkpoint
from agentgym.train.loop import main
from agentgym.util.metrics import read_metrics

ROOT = Path(__file__).resolve().parents[3]


def _flags(model, run_dir, **extra):
    flags = {"config": str(ROOT / "configs" / "smoke.yaml"), "model": model, "run-dir": str(run_dir),
             "max-new-tokens": "8", "max-steps": "6", **extra}
    return [x for key, value in flags.items() for x in (f"--{key}", str(value))]


def test_cli_smoke_run_writes_metrics_checkpoints_plot_and_reports(micro_model, tmp_path):
    main(_flags(micro_model, tmp_path, credit="gigpo", modifiers="empg", **{"epo-coef": "0.001"}))
    rows = read_metrics(tmp_path)
    assert [r["iteration"] for r in rows] == [0, 1, 2]
    assert "eval/success_rate" in rows[0] and "rollout/success_rate" not in rows[0]
    for key in ("rollout/success_rate", "rollout/invalid_action_rate", "rollout/zero_variance_group_frac",
                "credit/adv_mean", "loss/pg", "loss/kl", "loss/epo", "time/rollout_s", "eval/success_rate",
                "entropy/step_mean", "credit/step_group_singleton_frac"):
        assert key in rows[-1], key
    assert checkpoint.latest(tmp_path).name == "iter_000002"
    assert (tmp_path / "learning_curve.png").stat().st_size > 1000
    assert (tmp_path / "final_policy" / "config.json").exists()
    assert (tmp_path / "eval" / "iter_2" / "report.json").exists()
    assert json.loads((tmp_path / "summary.json").read_text())["iterations"] == 2


def test_ppo_with_critic_runs(micro_model, tmp_path):
    main(_flags(micro_model, tmp_path, config=str(ROOT / "configs" / "frozenlake_ppo.yaml"), iterations="1",
                **{"eval-every": "0", "kl-coef": "0"}) + ["--config", str(ROOT / "configs" / "smoke.yaml")])
    last = read_metrics(tmp_path)[-1]
    assert "loss/value" in last and 0.0 <= last["loss/vf_clip_frac"] <= 1.0


def _train_cmd(model, run_dir, iterations):
    return [sys.executable, "-m", "agentgym.train", *_flags(model, run_dir, iterations=str(iterations),
                                                             **{"eval-every": "1", "seed": "3"})]


def _comparable(row):
    return {k: v for k, v in row.items() if not k.startswith("time/")}


def test_resume_after_kill_matches_uninterrupted_run(micro_model, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    straight = tmp_path / "straight"
    subprocess.run(_train_cmd(micro_model, straight, 3), check=True, env=env, capture_output=True, cwd=ROOT)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(micro_model, killed, 3), env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while (checkpoint.latest(killed) is None or checkpoint.latest(killed).name != "iter_000002") \
            and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = subprocess.run(_train_cmd(micro_model, killed, 3) + ["--resume", "true"], env=env, cwd=ROOT,
                             capture_output=True, text=True, check=True)
    assert "resumed from" in resumed.stdout or checkpoint.latest(killed).name == "iter_000003"
    a, b = read_metrics(straight), read_metrics(killed)
    assert [r["iteration"] for r in b] == [0, 1, 2, 3]
    assert _comparable(a[3]) == pytest.approx(_comparable(b[3]), rel=1e-5, abs=1e-6)


def test_progress_shaping_fits_before_rl_refreshes_and_checkpoints_its_estimator(micro_model, tmp_path):
    main(_flags(micro_model, tmp_path, credit="grpo", shapers="invalid_action,progress",
                **{"progress-explore-batches": "2", "progress-refresh-every": "1", "progress-params": "{epochs: 3}"}))
    rows = read_metrics(tmp_path)
    assert [r["iteration"] for r in rows] == [0, 1, 2]
    assert rows[0]["progress/fit_trajectories"] == 8  # 2 exploration batches x 2 groups x 2 rollouts
    assert rows[0]["rollout/env_steps_total"] > 0 and "eval/success_rate" in rows[0]
    for key in ("progress/fit_loss", "progress/oracle_steps", "progress/contribution_mean"):
        assert key in rows[-1], key
    assert rows[-1]["rollout/env_steps_total"] > rows[0]["rollout/env_steps_total"]
    assert (tmp_path / "progress_estimator" / "head.pt").exists()
    state = checkpoint.load_state(checkpoint.latest(tmp_path))
    assert state["features"]["progress"]["fitted"] and len(state["features"]["progress"]["buffer"]) == 16  # 8 explored + 2 x 4 trained


def test_resume_with_progress_estimator_matches_uninterrupted_run(micro_model, tmp_path):
    flags = {"credit": "grpo", "shapers": "invalid_action,progress", "seed": "5", "progress-explore-batches": "1",
             "progress-refresh-every": "2", "progress-params": "{epochs: 3}"}
    main(_flags(micro_model, tmp_path / "straight", iterations="3", **flags))
    main(_flags(micro_model, tmp_path / "split", iterations="2", **flags))
    main(_flags(micro_model, tmp_path / "split", iterations="3", resume="true", **flags))
    a, b = read_metrics(tmp_path / "straight"), read_metrics(tmp_path / "split")
    assert [r["iteration"] for r in b] == [0, 1, 2, 3]
    assert _comparable(a[3]) == pytest.approx(_comparable(b[3]), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("preset", sorted(p.name for p in (ROOT / "configs").glob("*_verl_agent.yaml")))
def test_verl_agent_presets_load_and_check(preset):
    """Every verl-agent preset names real settings: the estimator's, the shaper's, the trainer's."""
    from agentgym.train.config import parse_args
    from agentgym.train.setup import check_config

    config = parse_args(["--config", str(ROOT / "configs" / preset)])
    check_config(config)
    assert config.credit_params["episode_stats"] == "step"
    assert config.shaper_params["invalid_action"]["mode"] == "step"


def test_verl_agent_preset_and_hgpo_train(micro_model, tmp_path):
    """The FrozenLake verl-agent preset (step statistics, verl-agent's penalty rule) trains 2 iterations at
    smoke size, and HGPO one, with its per-level diagnostics in the metrics."""
    small = {"num-groups": "2", "group-size": "4", "eval-every": "0", "eval-at-start": "false",
             "summary-baselines": "", "summary-splits": "", "tensorboard": "false", "progress-bar": "false",
             "max-new-tokens": "8", "max-steps": "6", "mini-batch-size": "64", "micro-batch-size": "64"}

    def args(run_dir, **extra):
        flags = {"model": micro_model, "run-dir": str(run_dir), **small, **extra}
        return [x for key, value in flags.items() for x in (f"--{key}", value)]

    main(["--config", str(ROOT / "configs" / "frozenlake_verl_agent.yaml"), *args(tmp_path / "verl", iterations="2")])
    rows = read_metrics(tmp_path / "verl")
    assert [r["iteration"] for r in rows] == [1, 2] and "credit/step_group_singleton_frac" in rows[-1]
    main(args(tmp_path / "hgpo", iterations="1", credit="hgpo", **{"history-len": "2"}))
    last = read_metrics(tmp_path / "hgpo")[-1]
    assert {"credit/hgpo_level1_shared_frac", "credit/hgpo_level3_mean_size", "loss/pg"} <= set(last)


def test_a_used_run_folder_is_never_mixed_into_and_resume_keeps_the_saved_settings(micro_model, tmp_path, capsys):
    """A second fresh run once appended its rows to the first's metrics.jsonl (31 -> 62) and a resumed run
    forgot --iterations and --eval-every, ran to the default 30 iterations and rewrote config.yaml."""
    first = _flags(micro_model, tmp_path, iterations="2", **{"eval-every": "2", "summary-splits": "",
                                                               "summary-baselines": ""})
    main(first)
    with pytest.raises(SystemExit, match="already holds a run .*--resume true to continue it, --overwrite true"):
        main(first)
    assert [r["iteration"] for r in read_metrics(tmp_path)] == [0, 1, 2]  # untouched by the refused run
    main(first + ["--overwrite", "true"])
    assert [r["iteration"] for r in read_metrics(tmp_path)] == [0, 1, 2]  # replaced, not appended
    capsys.readouterr()
    # resume with only the folder and a longer budget: every other setting comes from the saved config.yaml
    main(["--run-dir", str(tmp_path), "--resume", "true", "--iterations", "3", "--progress-bar", "false"])
    assert "--iterations 3 overrides the run's saved 2" in capsys.readouterr().err
    saved = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert (saved["iterations"], saved["eval_every"], saved["max_steps"], saved["model"]) == (3, 2, 6, micro_model)
    assert [r["iteration"] for r in read_metrics(tmp_path)] == [0, 1, 2, 3]
    with pytest.raises(SystemExit, match="contradict"):
        main(first + ["--resume", "true", "--overwrite", "true"])


@pytest.mark.parametrize("preset", sorted(p.name for p in (ROOT / "configs").glob("*_loop.yaml")))
def test_loop_presets_are_leave_one_out_ppo(preset):
    """Each LOOP preset is RLOO advantages, several clamped PPO epochs, no KL and the |A| filter."""
    from agentgym.train.config import parse_args
    from agentgym.train.setup import check_config

    config = parse_args(["--config", str(ROOT / "configs" / preset)])
    check_config(config)
    assert (config.credit, config.kl_coef, config.features["critic"].enabled, config.clip_reciprocal) == ("rloo", 0.0, False, True)
    assert config.ppo_epochs >= 2 and config.min_abs_advantage == 0.01 and config.clip_high == 0.1
    assert config.dual_clip is None and config.group_size == 6


def test_loop_preset_trains_and_reports_the_filter(micro_model, tmp_path):
    main(_flags(micro_model, tmp_path, config=str(ROOT / "configs" / "frozenlake_loop.yaml"), iterations="1",
                **{"eval-every": "0", "summary-splits": "", "summary-baselines": ""})
         + ["--config", str(ROOT / "configs" / "smoke.yaml")])
    row = read_metrics(tmp_path)[-1]
    assert 0.0 <= row["credit/small_adv_dropped_frac"] <= 1.0
    assert row["rollout/kept_steps_frac"] == pytest.approx(1.0 - row["credit/small_adv_dropped_frac"])


@pytest.mark.parametrize("preset", sorted(p.name for p in (ROOT / "configs").glob("*_archer.yaml")))
def test_archer_presets_name_real_settings_and_no_kl_or_shapers(preset):
    """Every ArCHer preset builds the critic (credit archer) with valid archer settings, no KL and no shapers
    (the advantage comes from the critic's environment rewards alone)."""
    from agentgym.train.config import parse_args
    from agentgym.train.features.archer.feature import ArcherCritic

    config = parse_args(["--config", str(ROOT / "configs" / preset)])
    ArcherCritic.check_config(config, config.features["archer"])
    assert (config.credit, config.kl_coef, config.shapers) == ("archer", 0.0, [])
    assert config.features["archer"].warmup_iterations >= 1 and config.features["archer"].critic_steps >= 1
