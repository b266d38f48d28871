"""Every option of train, sft and eval is documented from its dataclass field, and parses to its type."""

import dataclasses
import re

import pytest

from agentgym.eval import cli as eval_cli
from agentgym.eval.runner import EvalSettings
from agentgym.sft import trainer as sft
from agentgym.sft.trainer import SFTConfig
from agentgym.train.config import TrainConfig, apply_overrides, known_keys, parse_args
from agentgym.util.cli_options import field_docs


@pytest.mark.parametrize("cls", [TrainConfig, SFTConfig, EvalSettings])
def test_every_field_has_a_docstring(cls):
    docs = field_docs(cls)
    missing = [f.name for f in dataclasses.fields(cls) if not docs.get(f.name)]
    assert missing == []


def _option_help(text: str) -> dict[str, str]:
    """--flag -> its help text, from argparse's --help output."""
    helps, current = {}, None
    for line in text.splitlines():
        match = re.match(r"^  (--[a-z0-9-]+)(?: [A-Z0-9.,_]+)?(?:\s{2,}(.*))?$", line)
        if match:
            current = match.group(1)
            helps[current] = match.group(2) or ""
        elif current and line.startswith(" " * 10):
            helps[current] += " " + line.strip()
        else:
            current = None
    return helps


def test_train_help_describes_every_option(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    helps = _option_help(capsys.readouterr().out)
    keys = known_keys()
    assert {"critic_lr", "archer_critic_lr", "epo_coef", "progress_refresh_every", "igpo_escape"} <= set(keys)
    for key in keys:  # every field, and every trainer feature's {feature}_{field}
        flag = "--" + key.replace("_", "-")
        assert flag in helps, flag
        assert len(helps[flag]) > len("(default: x)") + 10 and "default:" in helps[flag], (flag, helps[flag])


def test_sft_and_eval_help_describe_every_option(capsys):
    with pytest.raises(SystemExit):
        sft.parse_args(["--help"])
    sft_help = _option_help(capsys.readouterr().out)
    with pytest.raises(SystemExit):
        eval_cli.build_parser().parse_args(["--help"])
    eval_help = _option_help(capsys.readouterr().out)
    for flags in (sft_help, eval_help):
        assert flags and all(len(text) > 10 for text in flags.values()), flags


def test_options_parse_to_their_field_types_and_only_given_ones_override():
    config = parse_args(["--modifiers", "empg,other", "--resume", "yes", "--credit-params", "{gamma: 0.9}",
                         "--dual-clip", "none", "--lr", "1e-4"])
    assert config.modifiers == ["empg", "other"] and config.resume is True
    assert config.credit_params == {"gamma": 0.9} and config.dual_clip is None and config.lr == 1e-4
    assert config.group_size == TrainConfig().group_size
    assert sft.parse_args(["--steps", "none", "--teacher-episodes", "5"]) == SFTConfig(steps=None, teacher_episodes=5)
    assert sft.parse_args([]).lr == 3e-3 and parse_args([]).lr == 2e-4  # lr=None: each command's own
    args = eval_cli.build_parser().parse_args(["--env", "agentgym/FrozenLake-v0", "--policy", "expert",
                                               "--pass-k", "1,3", "--seeds", "3", "--show-admissible", "false"])
    settings = eval_cli.settings_from_args(args)
    assert settings.pass_k == (1, 3) and settings.show_admissible is False and settings.batch_size == 16


def test_unknown_config_keys_suggest_the_field():
    with pytest.raises(ValueError, match="did you mean 'progress_bar'"):
        apply_overrides(TrainConfig(), {"progres_bar": False})


def test_renamed_options_keep_their_old_spelling_with_a_warning(capsys):
    """0.2 renamed a few options; for one release the old names still work, and say what to write instead."""
    config = parse_args(["--rollout-backend", "hf", "--env-backend", "thread", "--critic", "true",
                         "--epo-params", "{kappa_r: 3.0}", "--epo-coef", "0.001"])
    assert (config.engine, config.pool, config.features["critic"].enabled) == ("hf", "thread", True)
    assert config.features["epo"].kappa_r == 3.0 and config.features["epo"].coef == 0.001
    err = capsys.readouterr().err
    assert "rollout_backend is renamed engine" in err and "env_backend is renamed pool" in err
    assert "critic is renamed critic_enabled" in err and "set epo_kappa_r instead" in err
    assert sft.parse_args(["--episodes", "7", "--batch-size", "4"]) == SFTConfig(teacher_episodes=7, examples_per_step=4)
    assert "episodes is renamed teacher_episodes (--teacher-episodes)" in capsys.readouterr().err
    args = eval_cli.build_parser().parse_args(["--env", "agentgym/FrozenLake-v0", "--policy", "expert",
                                               "--env-backend", "process", "--env-workers", "2"])
    settings = eval_cli.settings_from_args(args)
    assert (settings.pool, settings.pool_workers) == ("process", 2)
    assert "env_workers is renamed pool_workers" in capsys.readouterr().err
    preset = apply_overrides(TrainConfig(), {"archer_params": {"tau": 0.3}, "value_clip": 0.1})
    assert preset.features["archer"].tau == 0.3 and preset.features["critic"].value_clip == 0.1


def test_a_feature_key_that_would_shadow_a_field_is_refused():
    """``{feature}_{field}`` keys live beside TrainConfig's own fields, so they must never collide."""
    keys = known_keys()
    assert len(keys) == len(set(keys))


def test_the_architecture_page_counts_the_help_groups_right(capsys):
    """docs/architecture.md once promised 6 option groups where --help showed 9: the page's count is checked."""
    from pathlib import Path

    page = (Path(__file__).resolve().parents[3] / "docs" / "architecture.md").read_text()
    promised = int(re.search(r"--help` shows the options in (\d+) groups", page).group(1))
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    titles = [line for line in capsys.readouterr().out.splitlines() if re.match(r"^[a-z].*:$", line)]
    assert len(titles) - 1 == promised, titles  # argparse's own "options:" group holds --help and --config
