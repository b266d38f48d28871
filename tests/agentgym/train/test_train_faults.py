"""Training runs that meet faults finish: each a 3-iteration run on Synthetic-v0 with a micro model.

The counters report every failure, no step of a failed episode reaches the update, and a run
whose environments fail too often stops with a clear message after a checkpoint, never hangs.
"""

import os
import re
import subprocess
import sys

import pytest

from agentgym.train import checkpoint
from agentgym.train import loop as train_module
from agentgym.train.batches import InfrastructureFailure
from agentgym.train.config import TrainConfig
from agentgym.train.loop import run
from agentgym.util.metrics import read_metrics

ENV = "agentgym/Synthetic-v0"


def _config(model, run_dir, env_kwargs, **extra):
    extra = {"num_groups": 4, **extra}
    return TrainConfig(env=ENV, env_kwargs=env_kwargs, model=model, run_dir=str(run_dir), iterations=3,
                       group_size=2, max_new_tokens=6, eval_every=0, eval_at_start=False,
                       checkpoint_every=0, tensorboard=False, progress_bar=False, **extra)


@pytest.fixture
def update_steps(monkeypatch):
    """Every step handed to the update, across the run."""
    seen = []
    original = train_module._update_samples

    def spy(trainer, steps, advantages):
        seen.extend(steps)
        return original(trainer, steps, advantages)

    monkeypatch.setattr(train_module, "_update_samples", spy)
    return seen


def _episode_ids(steps):
    return {re.search(r"\(episode (\w+)\)", s.prompt[1]["content"]).group(1) for s in steps}


def test_raising_environment_process_backend(micro_model, tmp_path, update_steps):
    log = tmp_path / "failed"
    kwargs = {"fail_rate": 0.01, "failure_log": str(log)}  # 720 steps: P(no fault at all) < 0.1%
    run(_config(micro_model, tmp_path / "run", kwargs, pool="process", pool_workers=2, num_groups=8))
    rows = read_metrics(tmp_path / "run")
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    failed = set(log.read_text().split())
    assert sum(r["rollout/env_errors"] for r in rows) == len(failed) > 0
    assert all(0 <= r["rollout/infra_dropped_frac"] < 0.5 for r in rows)
    assert update_steps and not _episode_ids(update_steps) & failed


def test_hanging_environment_thread_backend(micro_model, tmp_path, update_steps):
    kwargs = {"hang_once_file": str(tmp_path / "hang"), "hang_s": 3600, "failure_log": str(tmp_path / "failed")}
    run(_config(micro_model, tmp_path / "run", kwargs, pool="thread", env_step_timeout_s=2.0))
    rows = read_metrics(tmp_path / "run")
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    assert sum(r["rollout/env_timeouts"] for r in rows) == 1
    assert max(r["time/rollout_s"] for r in rows) < 60  # waited for the timeout, not the hour
    [hung] = (tmp_path / "failed").read_text().split()
    assert hung not in _episode_ids(update_steps)


def test_killed_worker_process_backend(micro_model, tmp_path, update_steps):
    kwargs = {"kill_once_file": str(tmp_path / "kill"), "failure_log": str(tmp_path / "failed")}
    run(_config(micro_model, tmp_path / "run", kwargs, pool="process", pool_workers=2))
    rows = read_metrics(tmp_path / "run")
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    assert sum(r["rollout/worker_restarts"] for r in rows) == 1
    assert rows[0]["rollout/infra_dropped_frac"] > 0  # the killed worker's episodes were dropped and replayed
    assert (tmp_path / "failed").read_text().split()[0] not in _episode_ids(update_steps)


def test_too_many_failures_stop_the_run_after_a_checkpoint(micro_model, tmp_path):
    config = _config(micro_model, tmp_path / "run", {"fail_rate": 1.0}, pool="thread")
    with pytest.raises(InfrastructureFailure, match="max_infra_failure_frac=0.5.*--resume"):
        run(config)
    assert checkpoint.latest(tmp_path / "run").name == "iter_000000"


def test_huge_observations_train_in_bounded_memory(micro_model, tmp_path):
    """200 KB observations: cut by the pool, prompts fitted by the guard; peak RSS stays under 2 GB."""
    code = ("from agentgym.train.loop import main; import sys; main(sys.argv[1:])")
    flags = ["--env", ENV, "--env-kwargs", "{observation_chars: 200000}", "--model", micro_model,
             "--run-dir", str(tmp_path / "run"), "--iterations", "2", "--num-groups", "4", "--group-size", "2",
             "--max-steps", "4",
             "--max-new-tokens", "6", "--history-len", "2", "--eval-every", "0", "--eval-at-start", "false",
             "--tensorboard", "false", "--progress-bar", "false", "--pool", "thread"]
    # this run's own peak (wait4), not RUSAGE_CHILDREN: that is the largest child the whole session waited for
    process = subprocess.Popen([sys.executable, "-c", code, *flags])
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    assert process.returncode == 0
    peak_kib = usage.ru_maxrss
    rows = read_metrics(tmp_path / "run")
    assert [r["iteration"] for r in rows] == [1, 2]
    assert rows[-1]["rollout/observation_cut_frac"] > 0.5 and rows[-1]["rollout/prompt_truncated_frac"] > 0.5
    assert peak_kib < 2 * 1024 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"
