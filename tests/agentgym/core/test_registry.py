import gymnasium
import pytest

import agentgym
from agentgym.core.registry import DEFAULT_HISTORY_LEN
from agentgym.envs import describe, format_table


def test_make_and_gymnasium_make_agree():
    a = agentgym.make("agentgym/FrozenLake-v0", split="valid_seen")
    b = gymnasium.make("agentgym/FrozenLake-v0", split="valid_seen")
    assert a.reset(seed=5) == b.reset(seed=5)


def test_gymnasium_make_works_right_after_importing_agentgym():
    """In a fresh interpreter: no agentgym.make/list_envs call may be needed to register the ids."""
    import subprocess
    import sys

    code = ("import gymnasium, agentgym; env = gymnasium.make('agentgym/FrozenLake-v0', split='valid_seen'); "
            "print(env.reset(seed=5)[1]['task_id'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == agentgym.make("agentgym/FrozenLake-v0", split="valid_seen").reset(seed=5)[1]["task_id"]


def test_prompt_history_len_comes_from_the_environment_unless_given():
    assert agentgym.prompt_history_len("agentgym/FrozenLake-v0") == 0  # fully observed grid
    assert agentgym.prompt_history_len("agentgym/WebShop-v0") == DEFAULT_HISTORY_LEN == 2
    assert agentgym.prompt_history_len("agentgym/FrozenLake-v0", 3) == 3


def test_unknown_id_suggests_close_match():
    with pytest.raises(gymnasium.error.UnregisteredEnv, match="Did you mean: agentgym/FrozenLake-v0"):
        agentgym.make("agentgym/FrozenLak-v0")


def test_unknown_split_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown split 'test'"):
        agentgym.make("agentgym/FrozenLake-v0", split="test")


def test_module_prefixed_id_imports_the_module(tmp_path, monkeypatch):
    (tmp_path / "mypkg_envs.py").write_text(
        "import agentgym\n"
        "from environments.toytext.frozenlake import FrozenLakeText\n"
        "agentgym.register('mypkg/Lake-v0', entry_point=FrozenLakeText, sizes=(4,))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    env = agentgym.make("mypkg_envs:mypkg/Lake-v0")
    _, info = env.reset(seed=0)
    assert info["task_type"] == "4x4"
    assert "mypkg/Lake-v0" in agentgym.list_envs()
    assert agentgym.spec("mypkg/Lake-v0").kwargs == {"sizes": (4,)}


def test_env_table_lists_splits_and_counts():
    row = describe("agentgym/FrozenLake-v0")
    assert (row["train"], row["valid_seen"], row["valid_unseen"]) == (2000, 100, 100)
    table = format_table([row])
    assert "agentgym/FrozenLake-v0" in table and "2000" in table


def test_env_table_reports_broken_env_instead_of_raising():
    agentgym.register("broken/Env-v0", entry_point="no_such_module:Nope")
    row = describe("broken/Env-v0")
    assert "error" in row
    assert "unavailable" in format_table([row])
