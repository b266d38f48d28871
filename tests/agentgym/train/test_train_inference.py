"""Training on generation engines: the project's server over HTTP (weight sync, versions, rescoring),
asynchronous rollouts, the in-process copy, and the errors of settings that cannot work."""

import dataclasses
import os

import psutil
import pytest

from agentgym.core import plugins
from agentgym.inference.sync_check import greedy_match
from agentgym.train import loop as train
from agentgym.train.config import TrainConfig
from agentgym.util.metrics import read_metrics


def _config(model, run_dir, **kw):
    base = dict(model=model, run_dir=str(run_dir), iterations=3, num_groups=4, group_size=4, max_steps=6,
                max_new_tokens=8, eval_every=0, eval_at_start=False, checkpoint_every=0, tensorboard=False,
                progress_bar=False, lr=1e-2, seed=1)
    return TrainConfig(**{**base, **kw})


def _servers() -> list[psutil.Process]:
    """Policy-server processes below this one that are still alive (one may exit while we look)."""
    alive = []
    for child in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "policies.serve" in " ".join(child.cmdline()):
                alive.append(child)
        except psutil.NoSuchProcess:
            pass
    return alive


class VersionSpy:
    """Wraps the engine's generate to record the version of every rollout sample and the trainer's version
    (greedy calls are the sync check's, after the sync and before the iteration count moves on)."""

    def __init__(self, trainer):
        self.trainer, self.generate, self.seen = trainer, trainer.engine.generate, []
        trainer.engine.generate = self

    def __call__(self, prompts, sampling=None, infos=None):
        out = self.generate(prompts, sampling, infos)
        if not sampling.greedy:
            self.seen.append((self.trainer.iteration, [g.policy_version for g in out]))
        return out


@pytest.mark.parametrize("rescored", [True, False])
def test_server_backend_trains_with_exact_weight_sync(micro_model, tmp_path, rescored):
    """Several optimizer steps an iteration need the trainer's rescoring pass first; one step over the whole
    batch (the default mini-batch holds it) takes the old log-probs from its own forward instead."""
    config = _config(micro_model, tmp_path, engine="server", verify_sync_prompts=32,
                     mini_batch_size=16 if rescored else 512)
    trainer = train.setup(config)
    try:
        assert _servers(), "the run starts its own server process"
        start = plugins.policy_from_spec(micro_model)
        spy = VersionSpy(trainer)
        rows = []
        for _ in range(config.iterations):
            rows.append(train.train_iteration(trainer))
            trainer.iteration += 1
        for row in rows:
            assert row["rollout/sync_greedy_match"] == 1.0  # the server decodes what the trainer would
            assert row["rollout/logprob_abs_diff"] <= 1e-4  # equal fp32 weights: equal log-probs
            assert row["rollout/staleness_max"] == 0 and (row["rollout/rescored_steps"] > 0) == rescored
            assert row["rollout/steps"] > config.mini_batch_size if rescored else row["rollout/steps"] <= 512
        for iteration, versions in spy.seen:  # every sample carries the version that produced it
            assert versions and set(versions) == {iteration}
        # the updates changed the policy, so the matches above needed the syncs
        assert greedy_match(trainer.engine, start, trainer.sync_prompts, config.max_new_tokens) < 1.0
    finally:
        trainer.close()
    assert not _servers()


def test_asynchronous_server_rollouts_stay_within_one_update_and_resume(micro_model, tmp_path):
    config = _config(micro_model, tmp_path, engine="server", max_staleness=1, tis_cap=2.0,
                     checkpoint_every=1, engine_threads=1)
    train.run(config)
    rows = read_metrics(tmp_path)
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    assert all(r["rollout/staleness_max"] <= 1 and r["rollout/stale_dropped"] == 0 for r in rows)
    assert rows[0]["rollout/staleness_max"] == 0  # the first batch is sampled before any update
    assert max(r["rollout/staleness_max"] for r in rows) == 1  # later ones overlap the previous update
    assert all(0 < r["loss/tis_weight_mean"] <= 2.0 for r in rows)
    train.run(dataclasses.replace(config, iterations=4, resume=True))
    assert [r["iteration"] for r in read_metrics(tmp_path)] == [1, 2, 3, 4]
    assert not _servers()


def test_in_process_copy_samples_asynchronously(micro_model, tmp_path):
    train.run(_config(micro_model, tmp_path, iterations=2, max_staleness=1, mini_batch_size=8))
    rows = read_metrics(tmp_path)
    assert [r["iteration"] for r in rows] == [1, 2]
    assert all(r["rollout/rescored_steps"] > 0 and r["rollout/staleness_max"] <= 1 for r in rows)


def test_recompute_old_logprobs_rescores_the_trained_models_own_samples(micro_model, tmp_path):
    """The batch source rescores every step with the trained weights: the sampling numbers are kept for
    TIS, and on the model that sampled them they agree (one forward pass against token-by-token decoding)."""
    trainer = train.setup(_config(micro_model, tmp_path, iterations=1, recompute_old_logprobs=True))
    try:
        trajectories, _, metrics = trainer.batches.next(trainer)
        steps = [s for t in trajectories for s in t.steps if s.response_ids]
        assert metrics["rollout/rescored_steps"] == len(steps) > 0
        assert all(s.rollout_logprobs is not None and len(s.rollout_logprobs) == len(s.logprobs) for s in steps)
        assert metrics["rollout/logprob_abs_diff"] <= 1e-4
    finally:
        trainer.close()


@pytest.mark.parametrize(("settings", "itself"), [
    ({}, True),
    ({"ppo_epochs": 2}, False),  # the second epoch's ratio needs the old policy's log-probs
    ({"mini_batch_size": 99}, False),  # two optimizer steps: the second sees moved weights
    ({"rescore_on_policy": True}, False),
    ({"modifiers": ["empg"]}, False),  # EMPG reads exact step entropies before the update
    ({"credit": "rloo"}, True),
])
def test_the_update_scores_the_batch_itself_only_when_it_is_one_optimizer_step(settings, itself):
    from agentgym.train.batches import update_scores_itself

    config = TrainConfig(**{"mini_batch_size": 100, **settings})
    assert update_scores_itself(config, steps=100) is itself


def test_synchronous_hf_rollouts_are_the_trained_models_own(micro_model, tmp_path):
    trainer = train.setup(_config(micro_model, tmp_path, iterations=1))
    try:
        assert trainer.engine.backend == "hf" and not trainer.engine.rescores
        row = train.train_iteration(trainer)
        assert "rollout/rescored_steps" not in row and row["rollout/staleness_max"] == 0
    finally:
        trainer.close()


def test_a_dead_server_stops_the_run_with_a_clear_error(micro_model, tmp_path):
    trainer = train.setup(_config(micro_model, tmp_path, engine="server"))
    try:
        trainer.engine.timeout_s, trainer.engine.backoff_s = 2.0, 0.1  # engine_timeout_s: the whole wait
        trainer.engine.process.stop()
        with pytest.raises(RuntimeError, match="did not answer /v1/completions within engine_timeout_s=2 s"):
            train.train_iteration(trainer)
    finally:
        trainer.close()


@pytest.mark.parametrize(("settings", "message"), [
    ({"verify_sync_prompts": 8, "max_staleness": 1}, "verify_sync_prompts needs max_staleness=0"),
    ({"engine": "hf", "engine_url": "http://localhost:8000/v1"}, "use engine=server"),
    ({"engine": "sglang"}, "engine"),
    ({"max_staleness": -1}, "max_staleness"),
    ({"tis_cap": 0.5}, "tis_cap"),
])
def test_settings_that_cannot_work_are_refused_before_anything_starts(tmp_path, settings, message):
    with pytest.raises(ValueError, match=message):
        train.check_config(TrainConfig(run_dir=str(tmp_path), **settings))


def test_a_running_server_gets_the_trained_weights_before_the_first_rollout(micro_model, tmp_path):
    import torch

    from policies.hf import HFPolicy
    from policies.serve import ServerThread

    other = HFPolicy.from_pretrained(micro_model, device="cpu")
    with torch.no_grad():
        for p in other.model.parameters():
            p.mul_(3.0)  # a server holding other weights than the run trains
    with ServerThread(other, model_name="served") as server:
        config = _config(micro_model, tmp_path, iterations=1, engine="server",
                         engine_url=server.base_url, verify_sync_prompts=16)
        trainer = train.setup(config)
        try:
            assert trainer.engine.http.model == "served"  # the name /v1/models lists
            row = train.train_iteration(trainer)
            assert row["rollout/logprob_abs_diff"] <= 1e-4 and row["rollout/sync_greedy_match"] == 1.0
        finally:
            trainer.close()
        assert server.thread.is_alive()  # a server the run did not start is left running
