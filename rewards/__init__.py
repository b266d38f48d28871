"""Reward shapers: ``(batch, **params) -> StepBatch`` with a new reward column.

Each shaper registers itself in ``agentgym.credit.SHAPERS`` on import; the trainer applies the
ones named in its config, in order, before credit assignment.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
