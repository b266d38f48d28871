"""The floor plan: a few wings that follow one iteration, settings declared once, a loop with no branches
on an algorithm or a mode, and evaluation that loads no torch (docs/architecture.md, "File map")."""

import ast
import dataclasses
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from agentgym.eval.runner import EvalSettings
from agentgym.sft.trainer import SFTConfig
from agentgym.train.config import TrainConfig
from agentgym.train.features import settings_classes

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "agentgym"


def test_the_package_has_a_handful_of_top_level_modules_and_wings():
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    wings = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert modules == ["__init__.py", "envs.py", "serve_env.py"]  # the two commands that are one file each
    assert wings == ["core", "credit", "eval", "inference", "integrations", "openenv", "rollout", "sft", "train",
                     "util"]


def _declaring_class(cls: type, name: str) -> type:
    return next(k for k in cls.__mro__ if name in getattr(k, "__annotations__", {}))


def test_every_setting_is_declared_in_one_class():
    """Across train, eval, sft and every trainer feature, one flat name has one declaration: the commands
    share a setting by sharing the class that declares it (EpisodeSettings, PoolSettings, ...)."""
    owners: dict[str, set[str]] = defaultdict(set)
    for cls in (TrainConfig, EvalSettings, SFTConfig):
        for f in dataclasses.fields(cls):
            if f.name != "features":
                owners[f.name].add(_declaring_class(cls, f.name).__qualname__)
    for name, cls in settings_classes().items():
        for f in dataclasses.fields(cls):
            owners[f"{name}_{f.name}"].add(_declaring_class(cls, f.name).__qualname__)
    assert {key: sorted(v) for key, v in owners.items() if len(v) > 1} == {}
    assert owners["max_new_tokens"] == {"EpisodeSettings"} and owners["lr"] == {"ModelTrainingSettings"}


def _branch_names(function: ast.FunctionDef) -> set[str]:
    """Attribute and variable names read in the tests of the function's ifs and conditional expressions."""
    names = set()
    for node in ast.walk(function):
        if isinstance(node, (ast.If, ast.IfExp, ast.While)):
            for sub in ast.walk(node.test):
                if isinstance(sub, ast.Attribute):
                    names.add(sub.attr)
                elif isinstance(sub, ast.Name):
                    names.add(sub.id)
    return names


def test_one_iteration_has_no_branch_on_an_algorithm_a_feature_or_a_mode():
    tree = ast.parse((PACKAGE / "train" / "loop.py").read_text())
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    forbidden = {"credit", "max_staleness", "producer", "rescores", "filter_zero_variance_groups",
                 "min_abs_advantage", "critic", "epo", "archer", "igpo", "features", "engine", "batches"}
    for name in ("train_iteration", "train_on_batch", "_advantages", "_step_batch", "_update_samples"):
        assert _branch_names(functions[name]) & forbidden == set(), name


def test_evaluation_imports_no_torch_and_no_trainer():
    probe = ("import sys, agentgym.eval, agentgym.eval.cli\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers') "
             "or m.startswith('agentgym.train')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
