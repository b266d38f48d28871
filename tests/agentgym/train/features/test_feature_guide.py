"""docs/architecture.md's trainer-feature guide: a feature is one folder plus one entry point, and its
settings become options of ``python -m agentgym.train``. The guide's own package runs here, installed as a
real distribution (a ``.dist-info`` with its entry point) that importlib.metadata finds."""

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agentgym.core.types import Step, Trajectory

ROOT = Path(__file__).resolve().parents[4]
EXAMPLE = ROOT / "docs" / "examples" / "oracle_distance"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A site folder holding the example package and the metadata ``pip install`` would write for it."""
    site = tmp_path_factory.mktemp("site")
    shutil.copytree(EXAMPLE, site / "oracle_distance")
    info = site / "oracle_distance_example-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: oracle-distance-example\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text('[agentgym.features]\noracle_distance = oracle_distance.feature:OracleDistance\n')
    return site


def _train(site: Path, *flags: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    return subprocess.run([sys.executable, "-m", "agentgym.train", *flags], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_the_guide_shows_the_tested_package_verbatim():
    """docs/architecture.md prints feature.py whole; what a reader copies is what these tests run."""
    page = (ROOT / "docs" / "architecture.md").read_text()
    blocks = [b.split("```", 1)[0] for b in page.split("```python\n")[1:]]
    assert (EXAMPLE / "feature.py").read_text() in blocks


def test_the_guides_feature_shapes_by_the_oracle_distance(site, monkeypatch):
    monkeypatch.syspath_prepend(str(site))
    feature = importlib.import_module("oracle_distance.feature").OracleDistance(coef=0.1)
    steps = [Step(group_id=0, traj_id=0, t=0, prompt=[], response="", action="a", reward=0.0, state_key="s0",
                 info={"expert_steps_left": 3}),
             Step(group_id=0, traj_id=0, t=1, prompt=[], response="", action="b", reward=1.0, state_key="s1",
                 info={"expert_steps_left": None})]
    trajectories = [Trajectory(group_id=0, traj_id=0, task_id="t0", steps=steps)]
    from agentgym.core.types import StepBatch

    batch, metrics = feature.annotate(trajectories, StepBatch.from_trajectories(trajectories))
    # 0 - 0.1 * 3 on the first step; the unknown distance of the second leaves its reward as it was
    assert batch.reward.tolist() == pytest.approx([-0.3, 1.0])
    assert np.isnan(batch.extras["expert_steps_left"][1]) and metrics == {"oracle_distance/steps_left_mean": 3.0}


def test_an_entry_point_feature_gets_its_options_and_runs_in_the_loop(site, micro_model, tmp_path):
    helped = _train(site, "--help")
    assert helped.returncode == 0, helped.stderr
    assert "--oracle-distance-coef" in helped.stdout and "feature oracle_distance:" in helped.stdout
    run = _train(site, "--config", str(ROOT / "configs" / "smoke.yaml"), "--model", micro_model,
                 "--run-dir", str(tmp_path / "run"), "--env", "agentgym/FrozenLake-v0", "--max-new-tokens", "8",
                 "--max-steps", "6", "--kl-coef", "0", "--oracle-distance-coef", "0.05")
    assert run.returncode == 0, run.stderr[-2000:]
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    trained = [r for r in rows if "oracle_distance/steps_left_mean" in r]
    assert len(trained) == 2 and all(r["oracle_distance/steps_left_mean"] >= 0 for r in trained)
    saved = (tmp_path / "run" / "config.yaml").read_text()
    assert "oracle_distance_coef: 0.05" in saved  # the feature's settings are part of the run's record
