"""Generation engines (hf | vllm | server), weight sync, trainer rescoring and asynchronous rollouts.

The engines themselves live in the outer ``policies`` package and are found through the
``rollout_engine`` entry point of the ``agentgym.policies`` group, so the core names none of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentgym.core import plugins
from agentgym.inference.protocol import RolloutEngine
from agentgym.inference.settings import ENGINES, InferenceSettings

__all__ = ["ENGINES", "InferenceSettings", "RolloutEngine", "make_engine"]


def make_engine(settings: InferenceSettings, policy: Any, start_spec: str, version: int,
                log_dir: str | Path | None = None, rank: int = 0) -> RolloutEngine:
    """The generation engine ``settings`` ask for, holding ``policy``'s weights as version ``version``.

    ``start_spec`` is the policy spec the trained model was loaded from (a server starts from it too);
    ``rank``: the data-parallel rank the engine samples for (each rank has its own engine).
    """
    build = plugins.load(plugins.POLICIES, "rollout_engine")
    return build(settings, policy, start_spec, version, log_dir, rank=rank)
