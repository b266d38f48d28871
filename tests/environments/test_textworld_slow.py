"""Slow TextWorld checks: the expert wins 100 games of every family, and generation is reproducible
across processes. Run with ``pytest -m slow tests/environments/test_textworld_slow.py``;
``TEXTWORLD_EXPERT_SAMPLE`` lowers the sample size for a quicker look."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import agentgym

pytest.importorskip("textworld")

FAMILIES = ["Simple", "Cooking", "CoinCollector", "TreasureHunter", "Custom"]
SAMPLE = int(os.environ.get("TEXTWORLD_EXPERT_SAMPLE", "100"))


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("split", ["valid_seen", "valid_unseen"])
def test_expert_wins_every_game_of_a_sample(family, split):
    env = agentgym.make(f"agentgym/TextWorld-{family}-v0", split=split)
    lost = []
    for task_id in env.unwrapped.task_ids()[:SAMPLE]:
        _, info = env.reset(options={"task_id": task_id})
        for _ in range(env.unwrapped.max_steps):
            _, _, terminated, truncated, info = env.step(info["expert_action"])
            if terminated or truncated:
                break
        if not (info["success"] and info["score"] == 1.0):
            lost.append(task_id)
    env.close()
    assert not lost, f"the expert did not win: {lost}"


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_contract_on_every_split(family):
    for split in agentgym.SPLITS:
        env = agentgym.make(f"agentgym/TextWorld-{family}-v0", split=split)
        agentgym.check_env(env)
        env.close()


PLAYTHROUGH = """
import hashlib, agentgym
env = agentgym.make("agentgym/TextWorld-Cooking-v0", split="valid_seen")
obs, info = env.reset(options={"task_id": env.unwrapped.task_ids()[3]})
out = [obs, info["state_key"], str(info["admissible_actions"])]
while info["expert_action"]:
    obs, _, _, _, info = env.step(info["expert_action"])
    out += [obs, info["state_key"], str(info["admissible_actions"])]
print(hashlib.sha256("\\n".join(out).encode()).hexdigest())
"""


@pytest.mark.slow
def test_generation_is_identical_across_processes_and_hash_seeds(tmp_path):
    digests = set()
    for run, hash_seed in enumerate(("1", "2")):
        env = {**os.environ, "AGENTGYM_CACHE": str(tmp_path / f"cache{run}"), "PYTHONHASHSEED": hash_seed,
               "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")])}
        result = subprocess.run([sys.executable, "-c", PLAYTHROUGH], env=env, capture_output=True, text=True,
                                check=True, timeout=900)
        digests.add(result.stdout.strip())
    assert len(digests) == 1
