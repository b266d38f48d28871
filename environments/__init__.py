"""Built-in environments. Each subpackage registers its ids under ``agentgym/`` on import.

Registration uses string entry points, so importing this package is cheap and does not need an
environment's optional dependencies (textworld, alfworld, ...) until that environment is made.
"""

import importlib

FAMILIES = ("toytext", "alfworld", "textworld", "webshop", "tools")

for _family in FAMILIES:
    try:
        importlib.import_module(f"{__name__}.{_family}")
    except ModuleNotFoundError as exc:  # a family that is not part of this checkout yet
        if exc.name != f"{__name__}.{_family}":
            raise
