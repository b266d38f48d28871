"""Policies behind one protocol (``agentgym.core.policy.Policy``).

* ``HFPolicy`` (``policies.hf``): any transformers causal LM; the trainable default.
* ``VLLMPolicy`` (``policies.vllm``): in-process vLLM on GPU (extra ``vllm``).
* ``OpenAIPolicy`` (``policies.openai_api``): any OpenAI-compatible endpoint, for evaluation.
* ``ExpertPolicy``, ``RandomPolicy``, ``ReplayPolicy`` (``policies.scripted``).
* ``policies.tiny``: the offline tiny model, ``default_model(env_id)``.
* ``policies.engines``: the trainer's generation engines (hf, vllm, server); ``policies.serve``: the HTTP server.

``from_spec("expert" | "random" | "replay:F" | "openai:M@URL" | "vllm:P" | "tiny" | PATH)`` builds
one from a string. Heavy backends are imported lazily, so ``import policies`` stays cheap.
"""

from __future__ import annotations

from typing import Any

from policies.scripted import ExpertPolicy, RandomPolicy, ReplayPolicy
from policies.spec import from_spec

_LAZY = {
    "HFPolicy": "policies.hf",
    "OpenAIPolicy": "policies.openai_api",
    "EndpointUnavailable": "policies.openai_api",
    "VLLMPolicy": "policies.vllm",
    "ChatTemplateError": "policies.chat_template",
    "build_tiny_model": "policies.tiny",
    "default_model": "policies.tiny",
}

__all__ = ["ExpertPolicy", "RandomPolicy", "ReplayPolicy", "from_spec", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'policies' has no attribute {name!r}")
