"""A thin layer over gymnasium's registry for text environments.

Ids follow gymnasium's ``namespace/Name-vN``. ``make`` adds the ``split`` keyword and a
"did you mean" error; ``"pkg.module:Name-v0"`` ids import ``pkg.module`` first so third-party
packages register themselves, exactly as ``gymnasium.make`` does.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any

import gymnasium
from gymnasium.envs.registration import EnvSpec, load_env_creator

from agentgym.core import plugins
from agentgym.core.env import SPLITS, TextEnv

NAMESPACE = "agentgym"
DEFAULT_HISTORY_LEN = 2  # past steps shown in a prompt when neither the run nor the environment says otherwise


def register(id: str, entry_point: Any, max_episode_steps: int | None = None, **kwargs: Any) -> None:
    """Register an environment id with gymnasium (``kwargs`` become default constructor kwargs).

    ``max_episode_steps`` is left to the environment itself (it reports ``truncated``), so
    gymnasium's TimeLimit wrapper is not added unless asked for.
    """
    if id in gymnasium.registry:
        del gymnasium.registry[id]
    gymnasium.register(
        id=id,
        entry_point=entry_point,
        max_episode_steps=max_episode_steps,
        disable_env_checker=True,
        order_enforce=False,
        kwargs=kwargs,
    )


def _import_module_of(env_id: str) -> str:
    if ":" in env_id:
        module, env_id = env_id.split(":", 1)
        importlib.import_module(module)
    return env_id


def list_envs(namespace: str | None = None) -> list[str]:
    """Ids of registered text environments (all agentgym-style envs, or one namespace)."""
    ids = []
    for env_id, spec in gymnasium.registry.items():
        if namespace is not None and spec.namespace != namespace:
            continue
        if namespace is None and not _is_text_env(spec):
            continue
        ids.append(env_id)
    return sorted(ids)


def _is_text_env(spec: EnvSpec) -> bool:
    if spec.namespace == NAMESPACE or spec.id in plugins.entry_points(plugins.ENVS):
        return True
    entry = spec.entry_point
    if isinstance(entry, str):
        return False
    return isinstance(entry, type) and issubclass(entry, TextEnv)


def spec(env_id: str) -> EnvSpec:
    """The gymnasium ``EnvSpec`` of ``env_id``, with a "did you mean" error for unknown ids."""
    env_id = _import_module_of(env_id)
    if env_id not in gymnasium.registry:
        raise gymnasium.error.UnregisteredEnv(_unknown_message(env_id))
    return gymnasium.registry[env_id]


def prompt_history_len(env_id: str, history_len: int | None = None) -> int:
    """``history_len`` when given, else the environment class's ``prompt_history_len`` (2 if it has none).

    Trainer, SFT and evaluation resolve ``None`` here, so a model is always evaluated with the history
    it was trained on unless a run says otherwise.
    """
    if history_len is not None:
        return int(history_len)
    return int(class_attribute(env_id, "prompt_history_len", DEFAULT_HISTORY_LEN))


def class_attribute(env_id: str, name: str, default: Any = None) -> Any:
    """An attribute of the environment's class (e.g. ``pool_backend``), read without building it."""
    entry = spec(env_id).entry_point
    if isinstance(entry, str):
        entry = load_env_creator(entry)
    return getattr(entry, name, default)


def _unknown_message(env_id: str) -> str:
    known = list(gymnasium.registry.keys())
    close = difflib.get_close_matches(env_id, known, n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return f"No environment registered with id {env_id!r}.{hint} Run `python -m agentgym.envs` to list them."


def make(env_id: str, split: str = "train", **kwargs: Any) -> gymnasium.Env:
    """Create a registered environment on ``split`` (train, valid_seen or valid_unseen)."""
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; choose one of {SPLITS}.")
    env_spec = spec(env_id)
    return gymnasium.make(env_spec.id, split=split, **kwargs)


def register_entry_points() -> None:
    """Register every id of the ``agentgym.envs`` entry-point group with its ``module:Class`` string.

    Nothing is imported: gymnasium loads the class on the first ``make``. Ids registered by hand
    (``register``) take precedence over an entry point of the same id.
    """
    for env_id, point in plugins.entry_points(plugins.ENVS).items():
        if env_id not in gymnasium.registry:
            register(env_id, entry_point=point.value)


register_entry_points()
