"""Generate TextWorld games with textworld's own generator and cache them on disk.

A game is fully determined by (challenge, settings, seed); its task id names all three and is the
file name under ``agentgym.util.paths.cache_dir("textworld", "games", family)``. Generation takes about
a second, so it happens on first use of an id and never again. Files are written to a temporary
folder and moved into place (the ``.json`` first, then the ``.z8`` that marks the game complete),
so parallel workers asking for the same game never read a half-written one. Generation is
deterministic: a playthrough is identical across processes and hash seeds (checked in the tests).

Every new game is played once by textworld's planner before it is kept: about 3% of large Custom
worlds (6 rooms, 12 objects, quests of 8) name two objects so that Inform 7's parser cannot tell them
apart ("Which do you mean, the chest or the fresh laundry scented chest?"), and the walkthrough can
never be completed. Such a game is regenerated with the next derived seed, like a quest-generation
dead end, so every task of every split can be won.

Run ``python -m environments.textworld.generation ENV_ID --split train -n 200`` to fill the cache
ahead of training.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agentgym.util.paths import cache_dir

CHALLENGES = {"simple": "tw-simple", "cooking": "tw-cooking", "coin": "tw-coin_collector",
              "treasure": "tw-treasure_hunter"}
MAX_ATTEMPTS = 8
_KNOWLEDGE_BASES: dict[tuple, Any] = {}


@dataclass(frozen=True)
class GameSpec:
    """What to generate: ``family`` is one of ``CHALLENGES`` or ``"custom"``."""

    family: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0

    @property
    def tag(self) -> str:
        """The settings as ``key<value>`` parts joined by ``+`` (flags as their bare name)."""
        parts = []
        for key, value in self.settings.items():
            if value is True:
                parts.append(key)
            elif value is not False and value is not None:
                parts.append(f"{key}{value}")
        return "+".join(parts) or "default"

    @property
    def task_id(self) -> str:
        return f"{self.family}-{self.tag}-{self.seed}"


def game_path(spec: GameSpec) -> Path:
    """The cached ``.z8`` of ``spec``, generated and compiled on first use."""
    folder = cache_dir("textworld", "games", spec.family)
    final = folder / f"{spec.task_id}.z8"
    if final.is_file() and final.with_suffix(".json").is_file():
        return final
    with tempfile.TemporaryDirectory(dir=folder, prefix=".tmp-") as tmp:
        built = _generate(spec, Path(tmp) / final.name)
        os.replace(built.with_suffix(".json"), final.with_suffix(".json"))
        os.replace(built, final)
    return final


def _generate(spec: GameSpec, path: Path) -> Path:
    """Make and compile the game; on a quest-generation dead end or an unwinnable game, retry with
    derived seeds."""
    import textworld
    from textworld.generator import QuestGenerationError, compile_game

    error: Exception | None = None
    for attempt in range(MAX_ATTEMPTS):
        options = textworld.GameOptions()
        options.seeds = _attempt_seed(spec.seed, attempt)
        options.path = str(path)
        options.file_ext = ".z8"
        try:
            with _memoised_knowledge_bases(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # jericho warns when tw-simple replays its walkthrough
                game = _make_game(spec, options)
        except QuestGenerationError as exc:
            error = exc
            continue
        compiled = Path(compile_game(game, options))
        if _planner_wins(compiled):
            return compiled
        error = RuntimeError(f"attempt {attempt}: the planner's walkthrough does not win the compiled game")
        for stale in (compiled, compiled.with_suffix(".json")):  # textworld refuses to overwrite a different game
            stale.unlink(missing_ok=True)
    raise RuntimeError(f"textworld could not generate {spec.task_id} in {MAX_ATTEMPTS} attempts: {error}")


def _planner_wins(path: Path) -> bool:
    """Whether following textworld's planner (replanned every step, as ``expert_action`` does) wins
    within the environment's default step limit."""
    import textworld

    from environments.textworld.game_env import default_step_limit, start_game

    game = start_game(str(path), textworld.EnvInfos(policy_commands=True, won=True, lost=True))
    try:
        state = game.reset()
        for _ in range(default_step_limit(len(state["policy_commands"] or ()))):
            if state["won"] or state["lost"] or not state["policy_commands"]:
                break
            state, _, _ = game.step(state["policy_commands"][0])
        return bool(state["won"])
    finally:
        game.close()


@contextmanager
def _memoised_knowledge_bases() -> Iterator[None]:
    """Parse each challenge's knowledge base (logic + grammar files) once per process, not once per game.

    textworld's challenges call ``KnowledgeBase.load`` on every game, and parsing the logic files
    is about half of a game's generation time. Generation only reads the knowledge base, so
    sharing one parsed copy gives the same games (checked in the tests).
    """
    from textworld.generator.data import KnowledgeBase

    original = KnowledgeBase.__dict__["load"]

    def load(cls: type, target_dir: str | None = None, logic_path: str | None = None,
             grammar_path: str | None = None) -> Any:
        key = (target_dir, logic_path, grammar_path)
        if key not in _KNOWLEDGE_BASES:
            _KNOWLEDGE_BASES[key] = original.__func__(cls, target_dir, logic_path, grammar_path)
        return _KNOWLEDGE_BASES[key]

    KnowledgeBase.load = classmethod(load)
    try:
        yield
    finally:
        KnowledgeBase.load = original


def _attempt_seed(seed: int, attempt: int) -> int:
    if attempt == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), attempt]).generate_state(1)[0] % (2**31))


def _make_game(spec: GameSpec, options: Any) -> Any:
    import textworld
    import textworld.challenges

    settings = dict(spec.settings)
    if spec.family == "custom":
        options.nb_rooms = int(settings["rooms"])
        options.nb_objects = int(settings["objects"])
        options.quest_length = int(settings["quest"])
        options.chaining.min_breadth, options.chaining.max_breadth = 1, 5  # tw-make custom's defaults
        options.chaining.min_depth = 1
        return textworld.generator.make_game(options)
    if spec.family not in CHALLENGES:
        raise ValueError(f"Unknown TextWorld family {spec.family!r}; choose custom or one of {sorted(CHALLENGES)}.")
    _, make, _ = textworld.challenges.CHALLENGES[CHALLENGES[spec.family]]
    if spec.family == "cooking":
        settings = {"recipe_seed": 0, "drop": False, **settings}
    return make(settings=settings, options=options)


def main(argv: list[str] | None = None) -> None:
    """Pre-generate the first ``n`` games of a split so training never waits for generation."""
    import agentgym

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("env_id")
    parser.add_argument("--split", default="train")
    parser.add_argument("-n", type=int, default=100)
    args = parser.parse_args(argv)
    env = agentgym.make(args.env_id, split=args.split).unwrapped
    start = time.perf_counter()
    for i, task_id in enumerate(env.task_ids()[: args.n]):
        env.game_file(task_id)
        print(f"{i + 1}/{args.n} {task_id} ({time.perf_counter() - start:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
