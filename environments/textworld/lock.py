"""One process-wide lock for textworld's engine.

textworld parses every game's logic (``Game.load`` -> its tatsu grammar parser) with process-wide
parser state that is not thread-safe, and the rollout's ``EnvPool`` resets and steps environments on
threads: two games loaded at once crashed with tatsu ``FailedToken``/``IndexError`` or a ``TypeError``
from a half-parsed rule. ALFWorld is built on the same engine, so both families hold this one lock for
every engine call (generation, load, reset, step). The GIL serialises that Python work anyway.
"""

import threading

TEXTWORLD_LOCK = threading.RLock()
