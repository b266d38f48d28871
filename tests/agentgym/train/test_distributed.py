"""Data-parallel training on torch.distributed (gloo, CPU): the pieces by hand, then real torchrun runs.

The runs start their own trainer processes through ``python -m torch.distributed.run --standalone``
and wait for every one of them to end: one fixed batch trained at world size 1 and 2 gives the same
parameters, a run whose rank 1 is killed with SIGKILL resumes to the same metrics, a run whose rank 1
is frozen with SIGSTOP stops within the short collective timeout, and rank 0's solo work may outlast it.
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch
from transformers import AutoModelForCausalLM

from agentgym.rollout.collect import RolloutStats
from agentgym.train import checkpoint
from agentgym.train.config import TrainConfig
from agentgym.train.data_parallel import micro_batch_count, rank_rows
from agentgym.train.distributed import (
    DistContext,
    RankTimeout,
    combine_metrics,
    group_block,
    is_collective_timeout,
    timeouts_explained,
)
from agentgym.train.loop import main
from agentgym.train.setup import check_world
from agentgym.util.metrics import read_metrics

ROOT = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).with_name("distributed_worker.py")
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]


# ---------------------------------------------------------------------------------- by hand
def test_groups_are_shared_out_in_contiguous_blocks_as_even_as_possible():
    assert [group_block(DistContext(rank=r, world_size=2), 5) for r in range(2)] == [range(0, 3), range(3, 5)]
    assert [group_block(DistContext(rank=r, world_size=3), 4) for r in range(3)] == [range(0, 2), range(2, 3),
                                                                                     range(3, 4)]
    assert group_block(DistContext(), 7) == range(0, 7)


def test_ranks_take_every_other_row_and_run_as_many_micro_batches_as_the_busiest_rank():
    assert rank_rows(5, 0, 2) == [0, 2, 4] and rank_rows(5, 1, 2) == [1, 3]
    assert micro_batch_count(5, 2, 2) == 2  # rank 0 needs 2 micro-batches of 2; rank 1 runs a zero-weight second
    assert micro_batch_count(5, 1, 2) == 3 and micro_batch_count(1, 4, 8) == 1


def test_rank_metrics_combine_by_kind():
    parts = [{"loss/pg": 1.0, "time/update_s": 2.0, "rollout/rescored_steps": 3.0, "x_max": 1.0, "n": float("nan")},
             {"loss/pg": 3.0, "time/update_s": 5.0, "rollout/rescored_steps": 4.0, "x_max": 7.0, "n": 2.0}]
    assert combine_metrics(parts, sum_keys=("rollout/rescored_steps",)) == {
        "loss/pg": 2.0, "time/update_s": 5.0, "rollout/rescored_steps": 7.0, "x_max": 7.0, "n": 2.0}


def test_rollout_stats_of_shards_add_counts_and_take_the_slowest_time():
    a = RolloutStats(policy_s=1.0, env_s=2.0, total_s=3.5, steps=10, episodes=4, attempts=5, failed_attempts=1)
    b = RolloutStats(policy_s=2.0, env_s=1.0, total_s=3.0, steps=6, episodes=4, attempts=4)
    merged = RolloutStats.merged([a, b])
    assert (merged.policy_s, merged.env_s, merged.total_s) == (2.0, 2.0, 3.5)
    assert (merged.steps, merged.episodes, merged.attempts, merged.failed_attempts) == (16, 8, 9, 1)
    assert merged.infra_dropped_frac == pytest.approx(1 / 9)


def test_a_checkpoint_holds_every_ranks_random_state(tmp_path):
    states = []
    for seed in (11, 22):
        torch.manual_seed(seed)
        states.append(checkpoint.rng_state())
    saved = checkpoint.save(tmp_path, 3, {"iteration": 3}, lambda folder: folder.mkdir(), rng_states=states)
    torch.manual_seed(0)
    state = checkpoint.load_state(saved, rank=1)
    torch.manual_seed(22)
    expected = torch.rand(3)
    checkpoint.load_state(saved, rank=1)
    assert torch.equal(torch.rand(3), expected) and state["rng_restored"] and state["saved_world_size"] == 2
    assert not checkpoint.load_state(saved, rank=2)["rng_restored"]  # resumed at a larger world size


def test_settings_a_data_parallel_run_cannot_honour_are_refused():
    with pytest.raises(ValueError, match="num_groups >= world size"):
        check_world(TrainConfig(num_groups=2), DistContext(rank=0, world_size=4))
    check_world(TrainConfig(num_groups=4), DistContext(rank=0, world_size=4))
    with pytest.raises(ValueError, match="ray-address auto"):
        check_world(TrainConfig(pool="ray"), DistContext(rank=0, world_size=2))
    with pytest.raises(ValueError, match="max_staleness=0"):
        check_world(TrainConfig(data_parallel="fsdp", max_staleness=1), DistContext(rank=0, world_size=2))


# ---------------------------------------------------------------------------------- real runs
def _no_trainer_left(before: set[int]) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        left = [p for p in psutil.Process(os.getpid()).children(recursive=True) if p.pid not in before]
        if not left:
            return
        time.sleep(0.2)
    raise AssertionError(f"processes left behind: {left}")


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.mark.parametrize(("strategy", "old_logprobs"), [("ddp", "sampled"), ("fsdp", "sampled"), ("ddp", "update")])
def test_world_size_2_trains_a_fixed_batch_to_the_parameters_of_world_size_1(micro_model, tmp_path, strategy,
                                                                               old_logprobs):
    """``update``: each rank's update takes its rows' old log-probs from its own forward (no rescoring pass),
    and the engine gap is the mean over every rank's tokens."""
    before = {p.pid for p in psutil.Process(os.getpid()).children(recursive=True)}
    batch = tmp_path / "batch.pkl"
    _run([sys.executable, str(WORKER), "collect", str(batch), micro_model, str(tmp_path / "collect")])
    _run([sys.executable, str(WORKER), "train", str(batch), micro_model, str(tmp_path / "ws1"),
          str(tmp_path / "p1.pt"), "ddp", old_logprobs])
    _run([*TORCHRUN, str(WORKER), "train", str(batch), micro_model, str(tmp_path / "ws2"), str(tmp_path / "p2.pt"),
          strategy, old_logprobs])
    one, two = torch.load(tmp_path / "p1.pt"), torch.load(tmp_path / "p2.pt")
    assert one.keys() == two.keys()  # fsdp: the weights gathered whole
    start = AutoModelForCausalLM.from_pretrained(micro_model).state_dict()
    assert max(float((one[k] - start[k]).abs().max()) for k in one) > 1e-4  # the update did move the weights
    for name in one:
        torch.testing.assert_close(two[name], one[name], atol=1e-6, rtol=0, msg=name)
    m1, m2 = (json.loads((tmp_path / f"{p}.pt.json").read_text()) for p in ("p1", "p2"))
    assert m1.keys() == m2.keys() and m1["rollout/steps"] == m2["rollout/steps"]
    for key in m1:  # credit over the whole batch, and the loss of the whole mini-batches
        assert m2[key] == pytest.approx(m1[key], rel=1e-5, abs=1e-6) or (np.isnan(m1[key]) and np.isnan(m2[key])), key
    if old_logprobs == "update":  # the engine was the trained model itself here: the gap is float rounding
        assert m1["rollout/logprob_abs_diff"] < 1e-5 and m2["rollout/logprob_abs_diff_max"] < 1e-4
        assert m1["loss/clip_frac"] == m2["loss/clip_frac"] == 0.0
    _no_trainer_left(before)


def _train_flags(model, run_dir, iterations, strategy="ddp"):
    flags = {"data-parallel": strategy, "config": str(ROOT / "configs" / "smoke.yaml"), "model": model,
             "run-dir": str(run_dir),
             "max-new-tokens": "8", "max-steps": "6", "iterations": str(iterations), "num-groups": "4",
             "seed": "3", "eval-every": "2", "summary-splits": "", "summary-baselines": ""}
    return ["-m", "agentgym.train", *[x for key, value in flags.items() for x in (f"--{key}", value)]]


def _comparable(row):
    return {k: v for k, v in row.items() if not k.startswith("time/")}


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _rank_process(launcher: psutil.Process, rank: int) -> psutil.Process | None:
    for child in launcher.children(recursive=True):
        try:
            if child.environ().get("RANK") == str(rank) and "agentgym.train" in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_kill_9_of_one_rank_then_resume_gives_the_uninterrupted_runs_metrics(micro_model, tmp_path, strategy):
    before = {p.pid for p in psutil.Process(os.getpid()).children(recursive=True)}
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    _run([*TORCHRUN, *_train_flags(micro_model, straight, 6, strategy)])

    launcher = subprocess.Popen([*TORCHRUN, *_train_flags(micro_model, killed, 6, strategy)], env=ENV, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while checkpoint.latest(killed) is None and launcher.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    victim = _rank_process(psutil.Process(launcher.pid), 1)
    assert victim is not None and launcher.poll() is None, "the run ended before rank 1 could be killed"
    victim.send_signal(signal.SIGKILL)
    assert launcher.wait(timeout=120) != 0  # torchrun stops the other rank and reports the failure
    last = checkpoint.latest(killed)
    assert last is not None and int(last.name.removeprefix("iter_")) < 6

    resumed = _run([*TORCHRUN, *_train_flags(micro_model, killed, 6, strategy), "--resume", "true"])
    start = int(re.search(r"resumed from \S+ at iteration (\d+)", resumed.stdout).group(1))
    a, b = read_metrics(straight), read_metrics(killed)
    assert [r["iteration"] for r in b] == list(range(7))
    for iteration in range(start + 1, 7):  # every iteration after the checkpoint, evaluation included
        assert _comparable(b[iteration]) == pytest.approx(_comparable(a[iteration]), rel=1e-5, abs=1e-6), iteration
    assert "eval/success_rate" in b[6]
    final = AutoModelForCausalLM.from_pretrained(killed / "final_policy").state_dict()  # whole, not one rank's shard
    assert final.keys() == start_weights(micro_model).keys()
    assert all(final[k].shape == v.shape for k, v in start_weights(micro_model).items())
    # the optimizer state is saved whole and keyed as optimizer.state_dict() keys it, under either strategy ...
    optimizer = torch.load(checkpoint.latest(killed) / "trainer_state.pt", weights_only=False)["optimizer"]
    trained = [p for p in AutoModelForCausalLM.from_pretrained(micro_model).parameters() if p.requires_grad]
    assert sorted(optimizer["state"]) == list(range(len(trained)))
    assert all(optimizer["state"][i]["exp_avg"].shape == p.shape for i, p in enumerate(trained))
    _no_trainer_left(before)
    # ... so the run goes on in one process, from the checkpoint the two ranks wrote
    main([*_train_flags(micro_model, killed, 7, strategy)[2:], "--resume", "true"])
    assert [r["iteration"] for r in read_metrics(killed)] == list(range(8))


def start_weights(model):
    return AutoModelForCausalLM.from_pretrained(model).state_dict()


# ---------------------------------------------------------------------------------- a frozen rank
GLOO_TIMEOUT = ("[/pytorch/third_party/gloo/gloo/transport/tcp/unbound_buffer.cc:81] Timed out waiting 20000ms for "
                "recv operation to complete")
NCCL_TIMEOUT = ("[Rank 0] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=7, OpType=ALLREDUCE, "
                "NumelIn=1, NumelOut=1, Timeout(ms)=600000) ran for 600051 milliseconds before timing out.")


def test_only_torch_distributeds_own_timeouts_count_as_a_collective_timeout():
    assert is_collective_timeout(RuntimeError(GLOO_TIMEOUT))
    assert is_collective_timeout(torch.distributed.DistBackendError(NCCL_TIMEOUT))
    assert not is_collective_timeout(RuntimeError("Connection closed by peer [127.0.0.1]:4750"))  # a peer died
    assert not is_collective_timeout(TimeoutError(GLOO_TIMEOUT))  # not a RuntimeError: not torch.distributed's
    assert not is_collective_timeout(RankTimeout(GLOO_TIMEOUT))  # explained already


def test_a_timed_out_collective_names_the_likely_cause_and_the_option_to_raise():
    ctx = DistContext(rank=1, world_size=2, collective_timeout_s=20, dist_timeout_s=1800)
    with pytest.raises(RankTimeout, match=r"^rank 1 of 2 waited collective_timeout_s=20 s at a training collective "
                                          r".*frozen.*raise --collective-timeout-s\.$"):
        with timeouts_explained(ctx):
            raise RuntimeError(GLOO_TIMEOUT)
    with pytest.raises(RankTimeout, match=r"waited dist_timeout_s=1800 s for work one rank does alone.*"
                                          r"raise --dist-timeout-s\.$"):
        with timeouts_explained(ctx, solo=True):
            raise RuntimeError(GLOO_TIMEOUT)
    with pytest.raises(RuntimeError, match="closed by peer"), timeouts_explained(ctx):
        raise RuntimeError("Connection closed by peer")
    with pytest.raises(RuntimeError, match="Timed out waiting"), timeouts_explained(DistContext()):
        raise RuntimeError(GLOO_TIMEOUT)  # one process makes no collectives: not one of ours


def test_timeouts_must_be_positive():
    for name in ("collective_timeout_s", "dist_timeout_s"):
        with pytest.raises(ValueError, match=f"{name} must be > 0 seconds, got 0"):
            TrainConfig(**{name: 0}).check_run_settings()


def test_a_frozen_rank_stops_the_run_within_the_collective_timeout_in_one_paragraph(micro_model, tmp_path):
    before = {p.pid for p in psutil.Process(os.getpid()).children(recursive=True)}
    run_dir, log, timeout = tmp_path / "frozen", tmp_path / "torchrun.log", 20
    flags = [*_train_flags(micro_model, run_dir, 100_000), "--eval-every", "0", "--checkpoint-every", "1",
             "--collective-timeout-s", str(timeout)]
    with open(log, "w") as out:  # its own session: the finally below ends every process it started
        launcher = subprocess.Popen([*TORCHRUN, *flags], env=ENV, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
    try:
        deadline = time.time() + 300
        while checkpoint.latest(run_dir, quiet=True) is None and launcher.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        tree = psutil.Process(launcher.pid)
        survivor, frozen = _rank_process(tree, 0), _rank_process(tree, 1)
        assert survivor and frozen and launcher.poll() is None, "the run ended before rank 1 could be frozen"
        frozen.send_signal(signal.SIGSTOP)  # alive, holding its connections, answering nothing
        stopped = time.time()
        survivor.wait(timeout=timeout + 100)
        took = time.time() - stopped
        frozen.send_signal(signal.SIGCONT)  # so torchrun's SIGTERM ends it at once
        assert launcher.wait(timeout=120) != 0
    finally:  # torchrun's ranks may sit in process groups of their own: each is signalled too
        workers = _descendants(launcher.pid)
        for sig in (signal.SIGCONT, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(launcher.pid, sig)
            for worker in workers:
                with contextlib.suppress(psutil.NoSuchProcess):
                    worker.send_signal(sig)
        launcher.wait(timeout=60)
    text = log.read_text()
    # at most one short iteration before rank 0 waits, then the timeout (before the fix: dist_timeout_s, 1800 s);
    # the margin is for loaded machines, where that iteration took over 40 s (load 4-5, 2 cores)
    assert took < timeout + 90, text[-3000:]
    assert re.search(r"rank\s*: 0 \(local_rank: 0\)\n\s*exitcode\s*: 1 ", text), text[-3000:]  # torchrun's report
    paragraph = next(line for line in text.splitlines() if "waited collective_timeout_s" in line)
    assert paragraph.startswith("python -m agentgym.train: rank 0 of 2 waited collective_timeout_s=20 s")
    assert "frozen" in paragraph and "raise --collective-timeout-s" in paragraph
    latest = checkpoint.latest(run_dir)  # written whole, so intact: the paragraph names it for --resume
    assert latest is not None and f"{latest} is intact" in paragraph and "--resume true" in paragraph
    assert "gloo/transport" not in text and "Timed out waiting" not in text  # no raw gloo traceback
    _no_trainer_left(before)


def test_rank_0s_solo_work_may_outlast_the_collective_timeout(micro_model, tmp_path):
    """Clearing the run folder, the held-out checks, the checkpoint and the final policy each take rank 0 longer
    than collective_timeout_s: the other rank waits on the solo-work group (dist_timeout_s), so the run ends
    normally. With any of those waits on the lockstep group, rank 1 times out and the run fails."""
    before = {p.pid for p in psutil.Process(os.getpid()).children(recursive=True)}
    run_dir = tmp_path / "slow"
    done = _run([*TORCHRUN, str(WORKER), "slow-rank-0", micro_model, str(run_dir), "6"])
    slept = re.findall(r"rank 0 sleeps 8 s before (\w+)", done.stdout)
    assert sorted(slept) == ["evaluate", "evaluate", "remove_stale_writes", "save", "save_final"]  # start, iteration 1
    assert [row["iteration"] for row in read_metrics(run_dir)] == [0, 1] and (run_dir / "final_policy").is_dir()
    assert checkpoint.latest(run_dir) == checkpoint.checkpoint_dir(run_dir, 1)
    _no_trainer_left(before)
