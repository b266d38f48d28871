"""bfloat16 weights on a CPU without bf16 instructions: one warning, with the slowdown measured there."""

import warnings

import pytest

from policies import cpu_bf16


@pytest.fixture(autouse=True)
def fresh_cache():
    cpu_bf16.warn_if_bf16_is_emulated.cache_clear()
    yield
    cpu_bf16.warn_if_bf16_is_emulated.cache_clear()


def test_a_cpu_without_bf16_instructions_warns_once_with_the_measured_cost(monkeypatch):
    monkeypatch.setattr(cpu_bf16.platform, "system", lambda: "Linux")
    monkeypatch.setattr(cpu_bf16, "cpu_bf16_flags", lambda: ["amx_tile"])  # tiles, but no bf16 instructions
    monkeypatch.setattr(cpu_bf16, "bf16_slowdown", lambda width: 3.25)
    with pytest.warns(RuntimeWarning, match=r"no bfloat16 instructions .*measured 3\.2x the time of float32 here "
                                            r"\(64x64\).*use --model-dtype float32"):
        assert cpu_bf16.warn_if_bf16_is_emulated(64) == 3.25
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cpu_bf16.warn_if_bf16_is_emulated(64) == 3.25  # once per process


def test_a_cpu_with_bf16_instructions_says_nothing(monkeypatch):
    monkeypatch.setattr(cpu_bf16.platform, "system", lambda: "Linux")
    monkeypatch.setattr(cpu_bf16, "cpu_bf16_flags", lambda: ["avx512_bf16"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cpu_bf16.warn_if_bf16_is_emulated(64) is None


def test_the_slowdown_is_a_real_timing_ratio():
    ratio = cpu_bf16.bf16_slowdown(width=64, repeats=2)
    assert 0 < ratio < 1000
