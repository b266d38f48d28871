"""Which sandbox backend runs untrusted Python here: Docker when an engine answers, else bubblewrap.

Its own module so that ``sandbox`` (what the backends share) imports neither backend.
"""

from __future__ import annotations

import os

from environments.tools.sandbox import Backend, log
from environments.tools.sandbox_bwrap import BwrapBackend
from environments.tools.sandbox_docker import DockerBackend, docker_reachable

_CHOSEN: dict[str, Backend | None] = {}
_WHY_NONE: dict[str, str] = {}  # preference -> why no backend works, once choose_backend found none


def choose_backend(preference: str | None = None) -> Backend | None:
    """``"docker"``, ``"bwrap"`` or ``"auto"`` (default; also read from ``$AGENTGYM_SANDBOX``):
    Docker when an engine answers, else bubblewrap; None when neither works. Logged once."""
    preference = _preference(preference)
    if preference not in ("auto", "docker", "bwrap"):
        raise ValueError(f"sandbox must be 'auto', 'docker' or 'bwrap', got {preference!r}")
    if preference in _CHOSEN:
        return _CHOSEN[preference]
    backend: Backend | None = None
    docker_ok, docker_why = docker_reachable() if preference in ("auto", "docker") else (False, "not asked for")
    bwrap_ok, bwrap_why = BwrapBackend.available() if preference in ("auto", "bwrap") else (False, "not asked for")
    if docker_ok:
        backend = DockerBackend()
        log.info("Python sandbox backend: docker (%s)", docker_why)
    elif bwrap_ok:
        backend = BwrapBackend()
        log.info("Python sandbox backend: bubblewrap (%s; docker: %s)", bwrap_why, docker_why)
    else:
        _WHY_NONE[preference] = f"docker: {docker_why}; bubblewrap: {bwrap_why}"
        log.warning("No Python sandbox available (%s); run_python will refuse.", _WHY_NONE[preference])
    _CHOSEN[preference] = backend
    return backend


def why_unavailable(preference: str | None = None) -> str:
    """Why ``choose_backend(preference)`` found no backend ("" if it found one)."""
    preference = _preference(preference)
    return "" if choose_backend(preference) is not None else _WHY_NONE.get(preference, "unknown")


def _preference(preference: str | None) -> str:
    return preference or os.environ.get("AGENTGYM_SANDBOX", "auto")
