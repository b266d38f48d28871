"""``agentgym/TextWorld-v0`` plays games made by ``tw-make`` with settings the project never uses."""

import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

import agentgym

pytest.importorskip("textworld")


def tw_make(out_dir, name, *args):
    """Run the real ``tw-make`` command line; returns the .z8 path it wrote."""
    script = os.path.join(sysconfig.get_path("scripts"), "tw-make")
    command = [sys.executable, script] if os.path.isfile(script) else [shutil.which("tw-make")]
    path = out_dir / f"{name}.z8"
    subprocess.run([*command, *args, "--output", str(path), "--silent", "-f"], check=True, timeout=600)
    return path


def expert_wins(env, task_id):
    _, info = env.reset(options={"task_id": task_id})
    for _ in range(200):
        _, _, terminated, truncated, info = env.step(info["expert_action"])
        if terminated or truncated:
            break
    return info["success"]


def test_a_tw_make_custom_game_loads_and_the_expert_wins(tmp_path):
    path = tw_make(tmp_path, "mine", "custom", "--world-size", "2", "--nb-objects", "4", "--quest-length", "3",
                   "--theme", "house", "--seed", "4321")
    env = agentgym.make("agentgym/TextWorld-v0", game_files=[str(path)])
    assert list(env.unwrapped.task_ids()) == ["mine"]
    obs, info = env.reset(seed=0)
    assert info["task_type"] == "game_file" and info["admissible_actions"] and obs
    assert expert_wins(env, "mine")
    env.close()


@pytest.mark.slow
def test_tw_make_challenges_with_other_settings_load_and_the_expert_wins(tmp_path):
    made = [
        tw_make(tmp_path, "cook", "tw-cooking", "--recipe", "3", "--take", "3", "--go", "12", "--open", "--cut",
                "--cook", "--split", "test", "--seed", "99"),
        tw_make(tmp_path, "coin", "tw-coin_collector", "--level", "215", "--seed", "7"),
        tw_make(tmp_path, "hunt", "tw-treasure_hunter", "--level", "27", "--seed", "8"),
        tw_make(tmp_path, "simple", "tw-simple", "--rewards", "sparse", "--goal", "none", "--test", "--seed", "9"),
        tw_make(tmp_path, "big", "custom", "--world-size", "12", "--nb-objects", "25", "--quest-length", "7",
                "--quest-breadth", "2", "--seed", "10"),
    ]
    env = agentgym.make("agentgym/TextWorld-v0", split="valid_unseen", game_files={"valid_unseen": str(tmp_path)})
    assert sorted(env.unwrapped.task_ids()) == sorted(p.stem for p in made)
    for task_id in env.unwrapped.task_ids():
        assert expert_wins(env, task_id), task_id
    agentgym.check_env(env, seeds=(0,), n_random_actions=100)
    env.close()
