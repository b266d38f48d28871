"""Fixtures shared by the environment tests."""

import pytest


@pytest.fixture(scope="module")
def isolated_cache(tmp_path_factory):
    """Generated games go to a fresh cache shared by one module's tests (``usefixtures`` it)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("AGENTGYM_CACHE", str(tmp_path_factory.mktemp("agentgym-cache")))
    yield
    mp.undo()
