"""A real transformers policy (an untrained tiny model built locally): greedy reports are reproducible."""

import pytest

from agentgym.eval import EvalSettings, run_evaluation


@pytest.mark.slow
def test_greedy_hf_policy_gives_identical_reports(tmp_path):
    tiny = pytest.importorskip("policies.tiny")
    hf = pytest.importorskip("policies.hf")
    cfg = tiny.TinyConfig(hidden_size=64, num_layers=2, num_heads=1, num_kv_heads=1, intermediate_size=128,
                          corpus_episodes=60, vocab_size=512)
    path = tiny.build_tiny_model(tmp_path / "model", cfg=cfg)
    settings = EvalSettings(env="agentgym/FrozenLake-v0", split="valid_seen", episodes=4, max_steps=3, batch_size=4,
                            max_new_tokens=8, seeds=2)
    for name in ("a", "b"):  # a fresh load each time
        run_evaluation(hf.HFPolicy.from_pretrained(path, trainable=False), settings, tmp_path / name, "tiny",
                       progress=False)
    assert (tmp_path / "a" / "report.json").read_bytes() == (tmp_path / "b" / "report.json").read_bytes()
    assert (tmp_path / "a" / "episodes.jsonl").read_bytes() == (tmp_path / "b" / "episodes.jsonl").read_bytes()
    assert "entropy" in (tmp_path / "a" / "episodes.jsonl").read_text()
