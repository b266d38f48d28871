"""The core imports no outer package: built-ins are found through entry points, nothing heavy loads early."""

import shutil
import subprocess
import sys
from pathlib import Path

import gymnasium
import pytest

import agentgym
from agentgym import credit
from agentgym.core import plugins

ROOT = Path(__file__).resolve().parents[2]
OUTER = ("environments", "policies", "rewards", "textworld", "alfworld", "torch", "transformers")


def _loaded_after(code: str) -> list[str]:
    """Top-level packages of OUTER that ``code`` leaves in sys.modules, run in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint(sorted({{m.split('.')[0] for m in sys.modules}} & set({OUTER!r})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    return eval(out.stdout.strip().splitlines()[-1])


def test_import_agentgym_loads_no_environment_package_and_no_torch():
    assert _loaded_after("import agentgym") == []


def test_gymnasium_make_works_right_after_import_and_loads_only_that_family():
    loaded = _loaded_after("import agentgym, gymnasium\ngymnasium.make('agentgym/FrozenLake-v0').reset(seed=0)")
    assert loaded == ["environments"]


def test_the_cheapest_shaper_loads_without_a_prior_import_and_without_torch():
    code = ("from agentgym import credit\nassert credit.get_shaper('invalid_action').__name__ == "
            "'invalid_action_penalty'")
    assert _loaded_after(code) == ["rewards"]


def test_every_declared_environment_is_registered_as_a_lazy_string():
    declared = plugins.entry_points(plugins.ENVS)
    assert "agentgym/FrozenLake-v0" in declared and len(declared) >= 12
    for env_id, point in declared.items():
        assert gymnasium.registry[env_id].entry_point == point.value
        assert env_id in agentgym.list_envs()


def test_shapers_and_features_from_entry_points_are_listed_by_name():
    assert {"invalid_action", "progress"} <= set(credit.SHAPERS.names())
    assert "progress" in plugins.names(plugins.FEATURES)
    assert {"from_spec", "default_model", "build_model"} <= set(plugins.names(plugins.POLICIES))


def test_an_unknown_plugin_name_says_what_is_known():
    with pytest.raises(plugins.PluginNotFound, match="Did you mean from_spec"):
        plugins.load(plugins.POLICIES, "from_spek")
    with pytest.raises(KeyError, match="Did you mean invalid_action"):
        credit.get_shaper("invalid_actoin")


@pytest.mark.skipif(shutil.which("lint-imports") is None, reason="import-linter (the dev extra) is not installed")
def test_import_linter_contracts_hold():
    result = subprocess.run(["lint-imports"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout
