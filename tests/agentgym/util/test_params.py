"""``*_params`` are checked against their targets before anything is built."""

import time

import pytest

from agentgym.train.config import make_config
from agentgym.train.setup import setup
from agentgym.util.params import check_choice, check_keys, check_params


def _estimator(batch, gamma: float = 0.95, *, omega: float = 1.0):
    return batch


def _open(batch, **params):
    return batch


def test_check_params_accepts_keywords_after_the_leading_positionals_and_names_typos():
    check_params(_estimator, {"gamma": 0.9, "omega": 0.5}, "credit_params")
    with pytest.raises(ValueError, match=r"'gama' \(did you mean 'gamma'\?\)"):
        check_params(_estimator, {"gama": 0.9}, "credit_params")
    with pytest.raises(ValueError, match="'batch'"):  # the leading positional is not a setting
        check_params(_estimator, {"batch": 1}, "credit_params")
    check_params(_open, {"anything": 1}, "shaper_params")  # **params: nothing to check against


def test_check_keys_and_choice():
    check_keys({"a": 1}, ["a", "b"], "x")
    with pytest.raises(ValueError, match="x: unknown key"):
        check_keys({"c": 1}, ["a", "b"], "x")
    with pytest.raises(ValueError, match="x must be a mapping"):
        check_keys(["a"], ["a"], "x")
    with pytest.raises(ValueError, match="did you mean 'valid_seen'"):
        check_choice("valid_sen", ["train", "valid_seen"], "eval_split")


def test_a_yaml_boolean_key_is_explained():
    """YAML 1.1 reads `{on: format}` as {True: 'format'}: the error says to quote it, instead of a TypeError."""
    import yaml

    params = yaml.safe_load("{penalty: 0.1, on: format}")
    with pytest.raises(ValueError, match="unquoted on as a boolean: quote it"):
        check_keys(params, ["penalty", "on", "mode"], "shaper_params of 'invalid_action'")


@pytest.mark.parametrize("overrides, message", [
    ({"credit_params": {"gama": 0.9}}, "credit_params of 'gigpo'"),
    ({"modifiers": ["empg"], "modifier_params": {"empg": {"zetta": 0.1}}}, "modifier_params of 'empg'"),
    ({"modifier_params": {"empg": {"zeta": 0.1}}}, "not in modifiers"),
    ({"shaper_params": {"invalid_action": {"penalty": 0.2, "onn": "any"}}}, "shaper_params of 'invalid_action'"),
    ({"epo_coef": 0.001, "epo_kapa_r": 2.0}, "did you mean 'epo_kappa_r'"),
    ({"epo_coef": 0.001, "epo_params": {"kapa_r": 2.0}}, "did you mean 'epo_kappa_r'"),  # the old spelling
    ({"shapers": ["progress"], "progress_epoch": 3}, "did you mean 'progress_epochs'"),
    ({"shapers": ["progress"], "progress_estimator": "shared"}, "progress_estimator"),
    ({"eval_split": "valid"}, "eval_split"),
    ({"loss_agg": "token_mean"}, "loss_agg"),
])
def test_a_typo_fails_fast_before_any_model_is_built(overrides, message, tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTGYM_CACHE", str(tmp_path / "cache"))
    run_dir = tmp_path / "run"
    start = time.perf_counter()
    with pytest.raises(ValueError, match=message):
        setup(make_config(run_dir=str(run_dir), **overrides))
    assert time.perf_counter() - start < 2.0
    assert not run_dir.exists() and not (tmp_path / "cache").exists()  # nothing built, nothing written
