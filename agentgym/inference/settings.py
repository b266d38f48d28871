"""The settings of the generation engine, weight sync and asynchronous rollouts (docs/inference.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentgym.util.params import check_choice

ENGINES = ("auto", "hf", "vllm", "server")


@dataclass(kw_only=True)
class InferenceSettings:
    """engine: where rollouts are generated, weight sync, asynchronous rollouts (docs/inference.md)"""

    engine: str = "auto"
    """Generation engine of the rollouts: auto (vllm for a model of 20M+ parameters on a CPU where vLLM's
    CPU build is installed, else hf) | hf (transformers, in process) | vllm (in-process vLLM) | server
    (OpenAI-compatible HTTP)."""
    engine_url: str | None = None
    """engine=server: base URL (.../v1) of a running server, or several, comma-separated, shared out to
    the data-parallel ranks; None = every rank starts the project's own server."""
    engine_model: str | None = None
    """Model name to send to that server; None = the first one its /v1/models lists."""
    engine_threads: int | None = None
    """Torch CPU threads of the server this run starts; None = torch's default."""
    engine_timeout_s: float = 600.0
    """Longest wait for one server request, its retries included (or the server's start), before the run
    fails; a server that restarts within it is waited for and gets the trained weights back."""
    max_staleness: int = 0
    """Asynchronous rollouts: 0 = synchronous; k = rollouts may use weights up to k updates old (overlap)."""
    verify_sync_prompts: int = 0
    """After each weight sync, compare the engine's greedy responses with the trainer's on N held-out prompts."""
    engine_kwargs: dict[str, Any] = field(default_factory=dict)
    """engine=vllm: keyword arguments of vllm.LLM, e.g. '{gpu_memory_utilization: 0.4}'."""

    def check_inference_settings(self) -> None:
        check_choice(self.engine, ENGINES, "engine")
        if self.max_staleness < 0 or self.verify_sync_prompts < 0:
            raise ValueError(f"need max_staleness >= 0 and verify_sync_prompts >= 0, got {self.max_staleness} "
                             f"and {self.verify_sync_prompts}")
        if self.verify_sync_prompts and self.max_staleness:
            raise ValueError("verify_sync_prompts needs max_staleness=0: with asynchronous rollouts the trained "
                             "model has moved on by the time the engine loads a snapshot")
        if self.engine_url is not None and self.engine not in ("server", "auto"):
            raise ValueError(f"engine_url is set but engine={self.engine!r}; "
                             "use engine=server")
        if self.engine_timeout_s <= 0:
            raise ValueError(f"engine_timeout_s must be > 0, got {self.engine_timeout_s}")
