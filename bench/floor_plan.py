"""The floor plan of ``agentgym/`` in figures: top-level modules, the files and lines one default training
iteration runs code in, import arrows between the package's top-level parts, and the conditionals of the loop.

Run it from a checkout's root (it measures the ``agentgym`` it imports, so a worktree of an older commit can
be measured the same way): ``python bench/floor_plan.py``. Prints one table; ``--json`` writes the figures.

"Files one iteration touches": ``sys.setprofile`` records every project function called while a warmed-up
run (the default TrainConfig on FrozenLake-v1 with a small micro model, held-out evaluation and
checkpointing on) does one more iteration; lines are the lengths of those files.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import os
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path.cwd()
PROJECT = ("agentgym", "environments", "policies", "rewards")


def top_level_parts(package: Path) -> tuple[list[str], list[str]]:
    """(top-level modules, sub-packages) of the package folder."""
    modules = sorted(p.stem for p in package.glob("*.py"))
    packages = sorted(p.name for p in package.iterdir() if (p / "__init__.py").is_file())
    return modules, packages


def import_arrows() -> int:
    """Distinct (a -> b) pairs between top-level parts of agentgym (a != b), imports under TYPE_CHECKING left out."""
    import grimp

    graph = grimp.build_graph("agentgym", exclude_type_checking_imports=True)
    arrows = set()
    for module in graph.modules:
        a = module.split(".")[1] if module.count(".") else None
        for imported in graph.find_modules_directly_imported_by(module):
            b = imported.split(".")[1] if imported.count(".") else None
            if a and b and a != b:
                arrows.add((a, b))
    return len(arrows)


def loop_conditionals(loop_file: Path, functions: tuple[str, ...]) -> int:
    """if / conditional-expression / while tests inside the loop's per-iteration functions."""
    tree = ast.parse(loop_file.read_text())
    count = 0
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in functions:
            count += sum(isinstance(n, (ast.If, ast.IfExp, ast.While)) for n in ast.walk(node))
    return count


def files_of_one_iteration(micro_model: str) -> tuple[set[str], set[str]]:
    """(files that ran during one train_iteration, files that ran during one iteration with evaluation and a
    checkpoint), as paths relative to the checkout."""
    config_module = _first_module("agentgym.train.config", "agentgym.config")
    loop = _first_module("agentgym.train.loop", "agentgym.train")
    trainer_module = _first_module("agentgym.train.trainer", "agentgym.trainer")
    held_out = _first_module("agentgym.train.held_out_checks", "agentgym.eval.training")
    make = getattr(config_module, "make_config", None) or (lambda **kw: config_module.TrainConfig(**kw))
    run_dir = tempfile.mkdtemp(prefix="floor_plan_")
    config = make(model=micro_model, run_dir=run_dir, iterations=2, tensorboard=False, progress_bar=False,
                  eval_episodes=8, num_groups=4, group_size=4)
    trainer = loop.setup(config)
    seen: set[str] = set()

    def profile(frame, event, arg):
        if event == "call":
            path = frame.f_code.co_filename
            if path.startswith(str(ROOT)) and Path(path).relative_to(ROOT).parts[0] in PROJECT:
                seen.add(str(Path(path).relative_to(ROOT)))

    try:
        loop.train_iteration(trainer)  # warm: caches and lazy imports settle
        trainer.iteration += 1
        threading.setprofile(profile)
        sys.setprofile(profile)
        loop.train_iteration(trainer)
        trainer.iteration += 1
        sys.setprofile(None)
        threading.setprofile(None)
        iteration = set(seen)
        sys.setprofile(profile)
        threading.setprofile(profile)
        held_out.evaluate_now(trainer)
        trainer_module.save_checkpoint(trainer)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
        trainer.close()
    return iteration, seen


def _first_module(*names: str):
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError(names)


def lines(files: set[str]) -> int:
    return sum(len((ROOT / f).read_text().splitlines()) for f in files)


def wings_of(files: set[str]) -> int:
    """Folders the files are in."""
    return len({str(Path(f).parent) for f in files})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    os.environ.setdefault("AGENTGYM_CACHE", tempfile.mkdtemp(prefix="floor_plan_cache_"))
    from policies.tiny import TinyConfig, build_tiny_model

    micro = str(build_tiny_model(Path(tempfile.mkdtemp()) / "model", cfg=TinyConfig(
        vocab_size=512, hidden_size=64, num_layers=1, num_heads=1, num_kv_heads=1, intermediate_size=128,
        corpus_episodes=30)))
    modules, packages = top_level_parts(ROOT / "agentgym")
    iteration, with_eval = files_of_one_iteration(micro)
    loop_file = ROOT / "agentgym" / "train" / "loop.py"
    if not loop_file.exists():
        loop_file = ROOT / "agentgym" / "train.py"
    figures = {
        "top_level_modules": len(modules), "top_level_packages": len(packages),
        "iteration_files": len(iteration), "iteration_lines": lines(iteration), "iteration_folders": wings_of(iteration),
        "iteration_eval_ckpt_files": len(with_eval), "import_arrows_between_top_level_parts": import_arrows(),
        "loop_conditionals": loop_conditionals(loop_file, ("train_iteration", "train_on_batch")),
    }
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
