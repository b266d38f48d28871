"""Generation engines for training (``agentgym.inference``): ``hf``, ``vllm`` and ``server``; ``auto`` picks one.

``make_engine`` is the ``rollout_engine`` entry point the trainer builds its engine through:

=========  ===============  ==================================================================
backend    max_staleness    engine
=========  ===============  ==================================================================
hf         0                ``TrainedModelEngine``: the trained model itself (no sync, no rescoring)
hf         > 0              ``HFCopyEngine``: a copy of it that takes each update's weights
                            (also at 0 when the trained model is sharded, data_parallel=fsdp)
vllm       any              ``VLLMEngine``: in-process ``vllm.LLM``, ``load_weights`` after each update
server     any              ``ServerEngine`` on ``engine_url``, or on the project's own server
                            (``policies.serve``) started in a process of its own for the run;
                            several URLs are shared out to the data-parallel ranks
=========  ===============  ==================================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from policies.engines.base import EngineBase

VLLM_CPU_MIN_HEAD_SIZE = 64  # vLLM's CPU attention kernels take no smaller head
# Below this, the model samples itself: the tiny offline models (0.46M) decode a 128-prompt rollout step in about
# 0.1 s with transformers, where vLLM's per-call scheduling cannot pay. A judgement, not measured at the boundary.
VLLM_MIN_PARAMETERS = 20_000_000


def make_engine(settings: Any, policy: Any, start_spec: str, version: int,
                log_dir: str | Path | None = None, rank: int = 0) -> EngineBase:
    """The engine of ``settings.engine`` (an ``agentgym.inference.InferenceSettings``) for
    data-parallel rank ``rank``; ``auto`` picks one (``choose_engine``) and the engine's ``choice`` says why."""
    backend, why = choose_engine(settings, policy) if settings.engine == "auto" else (settings.engine, "")
    engine = _make(backend, settings, policy, start_spec, version, log_dir, rank)
    engine.choice = why
    return engine


def choose_engine(settings: Any, policy: Any) -> tuple[str, str]:
    """``engine=auto``: the fastest engine that samples token-exactly here, and why (docs/inference.md).

    A server URL means that server. On a CPU, a model of ``VLLM_MIN_PARAMETERS`` or more whose heads
    vLLM's CPU build takes samples with that build where it is installed (in process); otherwise, and on
    GPUs (where an in-process vLLM needs its share of GPU memory chosen: ``--engine vllm --engine-kwargs
    '{gpu_memory_utilization: 0.3}'``), the trained model samples itself.
    """
    from policies.vllm import available

    if settings.engine_url is not None:
        return "server", "engine_url is set"
    model = policy.model
    if _sharded(model):
        return "hf", "the trained model is sharded (data_parallel=fsdp)"
    if next(model.parameters()).device.type != "cpu":
        return "hf", "on a GPU, pick --engine vllm with its share of memory (docs/inference.md)"
    size = sum(p.numel() for p in model.parameters())
    if size < VLLM_MIN_PARAMETERS:
        return "hf", f"{size / 1e6:.1f}M parameters: too small for vLLM to pay"
    if not available():
        return "hf", ("vLLM is not installed in this Python (its CPU build runs in a venv of its own: "
                      "bash scripts/vllm_cpu_venv.sh)")
    config = getattr(model, "config", None)
    head = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    if head < VLLM_CPU_MIN_HEAD_SIZE:
        return "hf", f"head size {head}: vLLM's CPU build needs {VLLM_CPU_MIN_HEAD_SIZE} or more"
    return "vllm", "vLLM's CPU build is installed"


def _make(backend: str, settings: Any, policy: Any, start_spec: str, version: int, log_dir: str | Path | None,
          rank: int) -> EngineBase:
    if backend == "hf":
        from policies.engines.trained import HFCopyEngine, TrainedModelEngine

        if _sharded(policy.model):  # each forward pass is a collective: sampling needs weights of its own
            from policies.spec import policy_folder

            return HFCopyEngine(policy, version, load_from=policy_folder(start_spec),
                                dtype=getattr(settings, "model_dtype", "float32"))
        return HFCopyEngine(policy, version) if settings.max_staleness else TrainedModelEngine(policy, version)
    if backend == "vllm":
        from policies.engines.vllm_engine import VLLMEngine
        from policies.spec import policy_folder

        return VLLMEngine(policy, policy_folder(start_spec), version, **settings.engine_kwargs)
    if backend == "server":
        return _server_engine(settings, policy, start_spec, version, log_dir, rank)
    raise ValueError(f"unknown engine {backend!r} (hf | vllm | server)")


def _sharded(model: Any) -> bool:
    """Whether ``model`` is split over data-parallel ranks (FSDP2)."""
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def _seed(settings: Any, version: int, rank: int = 0) -> int | None:
    """The server's sampler seed: the run's seed, moved on by the version (a resumed run draws anew) and
    by the rank (each rank's server draws its own samples)."""
    seed = getattr(settings, "seed", None)
    return None if seed is None else int(seed) + version + 1_000_003 * rank


def _server_engine(settings: Any, policy: Any, start_spec: str, version: int, log_dir: str | Path | None,
                   rank: int = 0):
    from policies.engines.server import ServerEngine

    sync_dir = Path(log_dir) / "weight_sync" if log_dir is not None else None
    if settings.engine_url is not None:  # someone else's server: push our weights before the first rollout
        urls = [u.strip() for u in settings.engine_url.split(",") if u.strip()]
        engine = ServerEngine(policy, urls[rank % len(urls)], version=-1, model=settings.engine_model,
                              timeout_s=settings.engine_timeout_s, sync_dir=sync_dir)
        engine.pushes_weights = rank < len(urls)  # ranks sharing a server: the first one pushes
        try:
            engine.load(engine.snapshot(policy), version)
        except BaseException:
            engine.close()
            raise
        return engine
    from policies.engines.server_process import ServerProcess

    log_path = Path(log_dir) / "rollout_server.log" if log_dir is not None else None
    process = ServerProcess(start_spec, version=version, threads=settings.engine_threads, log_path=log_path,
                            startup_timeout_s=settings.engine_timeout_s, seed=_seed(settings, version, rank),
                            dtype=getattr(settings, "model_dtype", "float32"))
    try:
        return ServerEngine(policy, process.base_url, version, model=process.name,
                            timeout_s=settings.engine_timeout_s, process=process, sync_dir=sync_dir)
    except BaseException:
        process.stop()
        raise
