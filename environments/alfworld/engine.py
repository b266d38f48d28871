"""ALFWorld's own text engine: textworld's ``PddlEnv`` under alfworld's wrappers.

This is the stack alfworld's ``AlfredTWEnv.init_env`` builds for each game (``AlfredDemangler``
names entities "apple 1", ``AlfredInfos`` adds the game file, ``AlfredExpert`` adds the expert
plan), without its batched multiprocess gym layer. One addition: translating a PDDL problem to
Fast Downward's SAS format takes about a second for a kitchen, and ``PddlEnv`` does it twice on
``load`` and twice again on every ``reset``. ``memoized_translation`` caches those translations
(a pure function of domain and problem text) for the duration of a call, so replaying a game
costs one translation pair instead of two per reset. It also restores ``sys.argv``, which
fast_downward's translator overwrites.
"""

from __future__ import annotations

import hashlib
import sys
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import fast_downward
import textworld
from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredExpert, AlfredInfos
from textworld.envs import PddlEnv

from environments.alfworld import textgen_cache
from environments.textworld.lock import TEXTWORLD_LOCK

# textworld's PDDL grammar parser (tatsu) and fast_downward's translator (a patched module global that
# also rewrites sys.argv) are process-wide and not thread-safe, while the rollout's EnvPool resets and
# steps environments on threads: every engine call holds this lock. It is textworld's own lock (the
# TextWorld families parse with the same tatsu grammars). The GIL serialises that Python work anyway,
# so the lock costs no throughput.
ENGINE_LOCK = TEXTWORLD_LOCK
TRANSLATION_CACHE_SIZE = 16  # games; a kitchen's two translations take ~2 MB
_translations: OrderedDict[tuple[str, bool], tuple] = OrderedDict()
_original_pddl2sas = fast_downward.pddl2sas
TEXTGEN_CACHES = textgen_cache.install()  # command texts without re-parsing the grammar at every step


def _cached_pddl2sas(domain: str, problem: str, verbose: bool = False, optimize: bool = False):
    key = (hashlib.sha1(f"{domain}\0{problem}".encode()).hexdigest(), bool(optimize))
    if key in _translations:
        _translations.move_to_end(key)
        return _translations[key]
    argv = list(sys.argv)
    try:
        result = _original_pddl2sas(domain, problem, verbose=verbose, optimize=optimize)
    finally:
        sys.argv = argv
    _translations[key] = result
    while len(_translations) > 2 * TRANSLATION_CACHE_SIZE:
        _translations.popitem(last=False)
    return result


@contextmanager
def memoized_translation() -> Iterator[None]:
    """Within the block, PDDL->SAS translations are served from an in-process LRU cache."""
    previous = fast_downward.pddl2sas
    fast_downward.pddl2sas = _cached_pddl2sas
    try:
        yield
    finally:
        fast_downward.pddl2sas = previous


def request_infos(planner: bool = True, facts: bool = True) -> textworld.EnvInfos:
    """What agentgym reads from the engine: admissible commands, won, facts and the planner's plan."""
    return textworld.EnvInfos(admissible_commands=True, won=True, facts=facts, policy_commands=planner,
                              extras=["gamefile", "expert_plan"])


def make_engine(expert_type: str | None = None, infos: textworld.EnvInfos | None = None) -> textworld.Wrapper:
    """A single-game ALFWorld engine: ``load(game.tw-pddl)``, ``reset()``, ``step(command)``.

    ``expert_type`` "planner" or "handcoded" adds alfworld's ``AlfredExpert``; None leaves it out.
    """
    infos = infos or request_infos(planner=expert_type == "planner", facts=expert_type == "handcoded")
    env = AlfredInfos(AlfredDemangler(PddlEnv(infos), shuffle=False))
    return env if expert_type is None else AlfredExpert(env, expert_type=expert_type)
