"""Fixtures shared by the trainer's tests."""

import pytest


@pytest.fixture(scope="module")
def micro_model(tmp_path_factory):
    """A tiny random-init model with a tokenizer trained on FrozenLake text (seconds to build)."""
    from policies.tiny import TinyConfig, build_tiny_model

    cfg = TinyConfig(vocab_size=512, hidden_size=64, num_layers=1, num_heads=1, num_kv_heads=1,
                     intermediate_size=128, corpus_episodes=30)
    return str(build_tiny_model(tmp_path_factory.mktemp("micro") / "model", cfg=cfg))
