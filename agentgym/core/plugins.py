"""How the core finds code in the outer packages without importing them: package entry points.

``environments``, ``policies`` and ``rewards`` (and any third-party package) declare what they
provide under ``[project.entry-points."<group>"]`` in their ``pyproject.toml``; the core reads the
installed metadata with ``importlib.metadata`` and imports a provider only when it is first used.
That keeps the layers one-way (the core names no outer module) and ``import agentgym`` cheap.

==========================  =====================================================================
group                       entry point name -> value
==========================  =====================================================================
``agentgym.envs``           environment id (``agentgym/FrozenLake-v0``) -> ``module:EnvClass``
``agentgym.shapers``        reward shaper name -> ``module:function``
``agentgym.features``       trainer feature name -> ``module:FeatureClass``
``agentgym.policies``       ``from_spec``, ``default_model``, ``build_model``, ``rollout_engine`` -> ``module:function``
==========================  =====================================================================
"""

from __future__ import annotations

import difflib
import functools
from importlib import metadata
from typing import Any

ENVS = "agentgym.envs"
SHAPERS = "agentgym.shapers"
FEATURES = "agentgym.features"
POLICIES = "agentgym.policies"


class PluginNotFound(LookupError):
    """No installed distribution provides the requested entry point."""


@functools.cache
def entry_points(group: str) -> dict[str, metadata.EntryPoint]:
    """Name -> entry point of one group (the first distribution to declare a name wins)."""
    found: dict[str, metadata.EntryPoint] = {}
    for point in metadata.entry_points(group=group):
        found.setdefault(point.name, point)
    return found


def names(group: str) -> list[str]:
    return sorted(entry_points(group))


def load(group: str, name: str) -> Any:
    """Import and return the object behind ``name`` in ``group``, with a "did you mean" error."""
    points = entry_points(group)
    if name not in points:
        close = difflib.get_close_matches(name, points, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        known = ", ".join(sorted(points)) or "none (is the project installed? `pip install -e .`)"
        raise PluginNotFound(f"No {name!r} in entry-point group {group!r}.{hint} Known: {known}")
    return points[name].load()


def policy_from_spec(spec: str, env_id: str | None = None, **kwargs: Any) -> Any:
    """A policy from a spec string (model folder, ``expert``, ``openai:M@URL``, ...); see policies.spec.

    ``env_id``: the environment it will play; a bare ``heuristic`` becomes that environment's rule."""
    return load(POLICIES, "from_spec")(bind_env(spec, env_id), **kwargs)


def bind_env(spec: str, env_id: str | None) -> str:
    """``heuristic`` -> ``heuristic:ENV_ID`` (the rule belongs to one environment); other specs unchanged."""
    return f"heuristic:{env_id}" if spec == "heuristic" and env_id else spec
