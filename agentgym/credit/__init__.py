"""Credit assignment: ``credit.get(name)(batch, **params)`` -> one advantage per step.

Estimators and modifiers register themselves on import; shapers live in outer packages and are found
through the ``agentgym.shapers`` entry points. Contracts: docs/architecture.md.
"""

from __future__ import annotations

import importlib
import pkgutil

from agentgym.credit.registry import DIAGNOSTICS, ESTIMATORS, MODIFIERS, SHAPERS, Registry

register = ESTIMATORS.register
get = ESTIMATORS.get
names = ESTIMATORS.names
register_modifier = MODIFIERS.register
get_modifier = MODIFIERS.get
register_shaper = SHAPERS.register
get_shaper = SHAPERS.get
register_diagnostics = DIAGNOSTICS.register


def _import_all() -> None:
    """Import every module of this package (each estimator lives in its own file)."""
    for module in pkgutil.iter_modules(__path__):
        if module.name != "registry":
            importlib.import_module(f"{__name__}.{module.name}")


_import_all()

__all__ = ["DIAGNOSTICS", "ESTIMATORS", "MODIFIERS", "SHAPERS", "Registry", "get", "get_modifier", "get_shaper", "names",
           "register", "register_diagnostics", "register_modifier", "register_shaper"]
