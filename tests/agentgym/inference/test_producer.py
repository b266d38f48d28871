"""The asynchronous rollout producer: the staleness bound, weight loads between batches, errors, rng states."""

import numpy as np
import pytest

from agentgym.inference.producer import RolloutProducer
from agentgym.rollout.collect import RolloutStats


class CountingEngine:
    """A generation engine whose "weights" are the snapshot value it last loaded (records every load)."""

    backend, rescores = "test", True

    def __init__(self):
        self.version, self.weights, self.loads = 0, "w0", []

    def snapshot(self, policy):
        return policy

    def load(self, snapshot, version):
        self.weights, self.version = snapshot, version
        self.loads.append(version)


def _collector(engine, rng, log, fail_at=None, gate=None):
    def collect():
        if gate is not None:
            gate.wait(timeout=30)
        if fail_at is not None and len(log) == fail_at:
            raise OSError("engine went away")
        log.append((engine.version, engine.weights, int(rng.integers(0, 1000))))
        return [], RolloutStats()
    return collect


def test_batches_stay_within_max_staleness_and_use_the_latest_published_weights():
    engine, rng, log = CountingEngine(), np.random.default_rng(0), []
    producer = RolloutProducer(engine, _collector(engine, rng, log), rng, max_staleness=1, first_iteration=0)
    try:
        versions = []
        for iteration in range(6):
            batch, _ = producer.next(iteration)
            versions.append(batch.engine_version)
            producer.publish(f"w{iteration + 1}", iteration + 1)  # the update of this iteration
        # batches 0 and 1 are sampled before any update; batch i >= 2 starts once update i - 1 is published
        # (or later, with the newest weights then): never more than one update old, never ahead
        assert versions[:2] == [0, 0]
        assert all(i - 1 <= v <= i for i, v in enumerate(versions))
        assert all(weights == f"w{version}" for version, weights, _ in log[:6])
        assert engine.loads == sorted(set(engine.loads))  # loads only move forward
    finally:
        producer.close()


def test_with_max_staleness_2_batches_run_two_updates_ahead():
    engine, rng, log = CountingEngine(), np.random.default_rng(0), []
    producer = RolloutProducer(engine, _collector(engine, rng, log), rng, max_staleness=2, first_iteration=0)
    try:
        batches = [producer.next(i)[0] for i in range(3)]  # three batches with no update at all
        assert [b.engine_version for b in batches] == [0, 0, 0]
    finally:
        producer.close()


def test_checkpoint_state_is_the_task_sampler_before_the_next_untrained_batch():
    engine, rng, log = CountingEngine(), np.random.default_rng(0), []
    expected = np.random.default_rng(0)
    states = [expected.bit_generator.state]
    for _ in range(3):
        expected.integers(0, 1000)
        states.append(expected.bit_generator.state)
    producer = RolloutProducer(engine, _collector(engine, rng, log), rng, max_staleness=1, first_iteration=0)
    try:
        producer.next(0)
        producer.publish("w1", 1)
        producer.next(1)  # batch 2 may be running or done: the state saved must be from before it
        assert producer.task_rng_state(2) == states[2]
    finally:
        producer.close()


def test_a_collector_error_reaches_the_trainer():
    engine, rng, log = CountingEngine(), np.random.default_rng(0), []
    producer = RolloutProducer(engine, _collector(engine, rng, log, fail_at=1), rng, max_staleness=1,
                               first_iteration=0)
    try:
        producer.next(0)
        with pytest.raises(RuntimeError, match="engine went away"):
            producer.next(1)
    finally:
        producer.close()


def test_close_stops_a_producer_waiting_for_an_update():
    engine, rng, log = CountingEngine(), np.random.default_rng(0), []
    producer = RolloutProducer(engine, _collector(engine, rng, log), rng, max_staleness=1, first_iteration=3)
    producer.next(3)
    producer.next(4)  # batch 5 now waits for update 4, which never comes
    producer.close()
    assert not producer._thread.is_alive()
    assert [v for v, _, _ in log] == [0, 0]  # batch 5 was never collected
