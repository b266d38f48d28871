"""engine=auto: which engine a run gets, and the reason it prints, for each kind of model and machine."""

from types import SimpleNamespace

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

import policies.vllm
from agentgym.inference.settings import InferenceSettings
from policies.engines import VLLM_MIN_PARAMETERS, choose_engine


def _llama(heads: int, vocab: int = 40_000, hidden: int = 512) -> SimpleNamespace:
    """A real (randomly initialised) Llama of about 22.5M parameters: 40,000 x 512 tied embeddings, one layer."""
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=512, num_hidden_layers=1,
                         num_attention_heads=heads, num_key_value_heads=heads, tie_word_embeddings=True)
    return SimpleNamespace(model=LlamaForCausalLM(config))


@pytest.fixture(scope="module")
def large_model():
    policy = _llama(heads=8)  # head size 64
    assert sum(p.numel() for p in policy.model.parameters()) >= VLLM_MIN_PARAMETERS
    return policy


def test_a_server_url_means_that_server():
    settings = InferenceSettings(engine_url="http://127.0.0.1:8000/v1")
    assert choose_engine(settings, _llama(heads=8, vocab=1000, hidden=64)) == ("server", "engine_url is set")


def test_a_small_model_samples_itself():
    backend, why = choose_engine(InferenceSettings(), _llama(heads=2, vocab=1000, hidden=64))
    assert backend == "hf" and "0.2M parameters" in why


def test_without_vllm_a_large_model_samples_itself_and_says_how_to_get_vllm(large_model, monkeypatch):
    monkeypatch.setattr(policies.vllm, "available", lambda: False)
    backend, why = choose_engine(InferenceSettings(), large_model)
    assert backend == "hf" and "bash scripts/vllm_cpu_venv.sh" in why


def test_with_vllm_a_large_model_with_wide_heads_gets_vllm(large_model, monkeypatch):
    monkeypatch.setattr(policies.vllm, "available", lambda: True)
    assert choose_engine(InferenceSettings(), large_model)[0] == "vllm"


def test_heads_too_narrow_for_vllms_cpu_kernels_fall_back(monkeypatch):
    monkeypatch.setattr(policies.vllm, "available", lambda: True)
    backend, why = choose_engine(InferenceSettings(), _llama(heads=16))  # 512 / 16 = 32
    assert backend == "hf" and "head size 32" in why


def test_auto_is_the_default_and_takes_a_server_url():
    assert InferenceSettings().engine == "auto"
    InferenceSettings(engine_url="http://127.0.0.1:8000/v1").check_inference_settings()
    with pytest.raises(ValueError, match="use engine=server"):
        InferenceSettings(engine="hf", engine_url="http://127.0.0.1:8000/v1").check_inference_settings()


@pytest.mark.skipif(policies.vllm.available(), reason="vLLM is installed in this Python")
def test_asking_for_vllm_where_it_is_missing_names_the_fix(tmp_path):
    from policies.engines.vllm_engine import VLLMEngine

    with pytest.raises(ImportError, match="bash scripts/vllm_cpu_venv.sh"):
        VLLMEngine(_llama(heads=2, vocab=1000, hidden=64), str(tmp_path), version=0)
