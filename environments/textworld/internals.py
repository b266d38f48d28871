"""The textworld releases whose internals this project patches for speed, and the switch that turns it off.

Both speed-ups (ALFWorld's text-generation caches, ``environments/alfworld/textgen_cache.py``, and
TextWorld's valid-actions table, ``valid_actions_cache.py``) replace or wrap textworld functions that
are not part of its public API, so they are installed only on a version they were checked against;
``AGENTGYM_TEXTWORLD_CACHES=0`` turns both off (for comparisons, or if a result looks wrong).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

CHECKED_VERSIONS = ("1.7.0",)
SWITCH = "AGENTGYM_TEXTWORLD_CACHES"


def supported() -> tuple[bool, str]:
    """Whether textworld's internals may be patched here, and why (not)."""
    import textworld

    if os.environ.get(SWITCH, "1").strip().lower() in ("0", "false", "no", "off"):
        return False, f"{SWITCH} turns them off"
    if textworld.__version__ not in CHECKED_VERSIONS:
        return False, f"textworld {textworld.__version__} is not one of the checked {', '.join(CHECKED_VERSIONS)}"
    return True, f"textworld {textworld.__version__}"


@contextlib.contextmanager
def caches_switched(on: bool) -> Iterator[None]:
    """Set the switch for the duration (it is read whenever a game is loaded), then put back what was there."""
    before = os.environ.get(SWITCH)
    os.environ[SWITCH] = "1" if on else "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(SWITCH, None)
        else:
            os.environ[SWITCH] = before
