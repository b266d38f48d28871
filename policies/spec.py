"""Build a policy from one string, as command lines and configs name them.

=================================  ==========================================================
spec                               policy
=================================  ==========================================================
``expert``                         ``ExpertPolicy`` (follows ``info["expert_action"]``)
``expert:EPS``                     ``NoisyExpertPolicy``: a random admissible step with probability EPS
``random`` / ``random:SEED``       ``RandomPolicy`` over ``info["admissible_actions"]``
``heuristic:ENV_ID``               ``HeuristicPolicy``: the environment's hand-written rule
                                   (``policies.heuristics``; reads only the prompt)
``replay:FILE``                    ``ReplayPolicy.from_file(FILE)``
``openai:MODEL@BASE_URL``          ``OpenAIPolicy`` (e.g. ``openai:qwen@http://localhost:8000/v1``)
``vllm:PATH``                      ``VLLMPolicy`` (GPU, needs the ``vllm`` extra)
``tiny`` / ``tiny:ENV_ID``         the SFT-warm-started offline tiny model (built and cached once)
a folder                           ``HFPolicy``: a model folder, a saved policy, or a training
                                   checkpoint folder holding ``policy/``
a ``.gguf`` file                   ``HFPolicy`` on its materialised folder (``policies.pretrained``)
anything else                      ``HFPolicy.from_pretrained``: a hub id from the hub or its cache, else
                                   from an installed package (``policies.pretrained.PACKAGED``)
=================================  ==========================================================

Keyword arguments go to the policy's constructor; ``dtype``, ``lora`` and ``device`` only to model-backed
ones (so one call site can load any spec).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from policies.pretrained import resolve

MODEL_ONLY = ("dtype", "lora", "device")  # keywords only model-backed policies take; scripted ones ignore them


def from_spec(spec: str, **kw: Any):
    kind, _, rest = spec.partition(":")
    model_kw = {k: kw.pop(k) for k in MODEL_ONLY if k in kw}
    model_kw = {k: v for k, v in model_kw.items() if v is not None}
    if spec == "expert":
        from policies.scripted import ExpertPolicy

        return ExpertPolicy(**kw)
    if kind == "expert" and rest:  # 'expert:0.3' = expert with 30% random admissible steps
        from policies.scripted import NoisyExpertPolicy

        return NoisyExpertPolicy(float(rest), **kw)
    if kind == "random":
        from policies.scripted import RandomPolicy

        return RandomPolicy(seed=int(rest) if rest else kw.pop("seed", 0), **kw)
    if kind == "heuristic":
        from policies.heuristics import HeuristicPolicy

        if not rest:
            raise ValueError("heuristic needs an environment: 'heuristic:agentgym/FrozenLake-v0' (the eval and "
                             "train commands fill in their own --env)")
        return HeuristicPolicy(rest)
    if kind == "replay":
        from policies.scripted import ReplayPolicy

        if not rest:
            raise ValueError("replay needs a file: 'replay:actions.json'")
        return ReplayPolicy.from_file(rest)
    if kind == "openai" and rest:
        return _openai(rest, **kw)
    if kind == "vllm" and rest:
        from policies.vllm import VLLMPolicy

        return VLLMPolicy(resolve(policy_folder(rest)), **{k: v for k, v in model_kw.items() if k == "dtype"}, **kw)
    if kind == "tiny":
        from policies.hf import HFPolicy
        from policies.tiny import DEFAULT_ENV, default_model

        return HFPolicy.from_pretrained(default_model(rest or DEFAULT_ENV), **model_kw, **kw)
    from policies.hf import HFPolicy

    return HFPolicy.from_pretrained(resolve(policy_folder(spec)), **model_kw, **kw)


def _openai(rest: str, **kw: Any):
    from policies.openai_api import OpenAIPolicy

    model, sep, base_url = rest.partition("@")
    if not sep or not model or not base_url:
        raise ValueError(f"expected 'openai:MODEL@BASE_URL', got 'openai:{rest}'")
    return OpenAIPolicy(model, base_url, **kw)


def policy_folder(path: str) -> str:
    """A training checkpoint keeps its policy in ``<ckpt>/policy``; a model folder is used as is."""
    folder = Path(path)
    if folder.is_dir() and not _is_model(folder) and _is_model(folder / "policy"):
        return str(folder / "policy")
    return path


def _is_model(folder: Path) -> bool:
    return (folder / "config.json").exists() or (folder / "adapter_config.json").exists()
