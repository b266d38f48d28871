"""The trainer drives every feature through the same hooks, in order, and checkpoints its state."""

from pathlib import Path

import numpy as np
import pytest
import torch

from agentgym.train import checkpoint, features
from agentgym.train.features import TrainerFeature
from agentgym.train.loop import main
from agentgym.util.metrics import read_metrics

ROOT = Path(__file__).resolve().parents[4]


class CountingTerm:
    needs_entropy = True

    def __init__(self, owner):
        self.owner = owner

    def start_mini_batch(self, mini, iteration):
        self.rows = 0

    def __call__(self, entropies, mask, rows):
        self.rows += entropies.shape[0]
        return 0.0 * entropies.sum()  # adds nothing to the gradient

    def metrics(self):
        return {"loss/recorder_rows": float(self.rows)}


class Recorder(TrainerFeature):
    name = "recorder"
    calls: list = []
    restored: list = []

    @classmethod
    def from_config(cls, config, settings, context):
        return cls() if config.iterations > 0 else None

    def __init__(self):
        self.count = 0

    def warm_up(self, rollout):
        self.calls.append("warm_up")
        return {}

    def annotate(self, trajectories, batch):
        self.calls.append("annotate")
        return batch.with_extras(recorded=np.arange(len(batch), dtype=np.float64)), {"recorder/steps": len(batch)}

    def prepare(self, samples):
        self.calls.append("prepare")

    def loss_terms(self):
        self.calls.append("loss_terms")
        return [CountingTerm(self)]

    def after_update(self, steps, batch):
        self.calls.append("after_update")
        assert len(batch) == len(steps) and "recorded" in batch.extras  # the column survived shaping
        return {}

    def end_iteration(self, iteration):
        self.calls.append(f"end_iteration:{iteration}")
        self.count += 1
        return {}

    def state_dict(self):
        return {"count": self.count}

    def load_state_dict(self, state):
        self.restored.append(state)
        self.count = state["count"]


def _flags(model, run_dir, **extra):
    flags = {"config": str(ROOT / "configs" / "smoke.yaml"), "model": model, "run-dir": str(run_dir),
             "max-new-tokens": "8", "max-steps": "6", "kl-coef": "0", **extra}
    return [x for key, value in flags.items() for x in (f"--{key}", str(value))]


def test_hooks_run_in_loop_order_and_state_resumes(micro_model, tmp_path, monkeypatch):
    monkeypatch.setattr(features, "CORE", (*features.CORE, Recorder))
    Recorder.calls.clear()
    main(_flags(micro_model, tmp_path))
    per_iteration = ["annotate", "prepare", "loss_terms", "after_update"]
    assert Recorder.calls == ["warm_up", *per_iteration, "end_iteration:1", *per_iteration, "end_iteration:2"]
    rows = read_metrics(tmp_path)
    assert rows[-1]["recorder/steps"] == rows[-1]["rollout/steps"]
    assert rows[-1]["loss/recorder_rows"] == rows[-1]["rollout/steps"]  # every kept step, over its micro-batches
    assert checkpoint.load_state(checkpoint.latest(tmp_path))["features"]["recorder"] == {"count": 2}

    Recorder.calls.clear()
    main(_flags(micro_model, tmp_path, iterations="3", resume="true"))
    assert Recorder.restored == [{"count": 2}]
    assert Recorder.calls == [*per_iteration, "end_iteration:3"]  # no warm-up on a resumed run


def test_resuming_with_a_feature_the_checkpoint_lacks_is_an_error(micro_model, tmp_path, monkeypatch):
    main(_flags(micro_model, tmp_path, iterations="1"))
    monkeypatch.setattr(features, "CORE", (*features.CORE, Recorder))
    with pytest.raises(SystemExit, match=r"no state for the feature\(s\) \['recorder'\]"):  # one line from the CLI
        main(_flags(micro_model, tmp_path, iterations="2", resume="true"))


def test_only_the_features_a_config_asks_for_are_built(micro_model, tmp_path):
    from agentgym.core.plugins import policy_from_spec
    from agentgym.train.config import TrainConfig, make_config
    from agentgym.train.features import SetupContext

    policy = policy_from_spec(micro_model)
    context = SetupContext(policy=policy, model_path=micro_model, run_dir=tmp_path, load_policy=policy_from_spec)
    assert [f.name for f in features.build(TrainConfig(kl_coef=0.0), context)] == []
    built = features.build(make_config(kl_coef=0.01, critic_enabled=True, epo_coef=0.001, shapers=["progress"]),
                           context)
    assert [f.name for f in built] == ["reference", "critic", "epo", "progress"]
    assert all(not p.requires_grad for p in built[0].reference.model.parameters())
    assert isinstance(built[1].optimizer, torch.optim.AdamW)
