"""Prove a generated game solvable by playing the oracle's plan on the engine's PDDL state.

This runs the same Fast Downward state that ``PddlEnv`` steps (``PddlState``: applicable
operators, ``apply``, ``check_goal``) but skips the grammar that renders feedback and admissible
commands, which is most of a text step's cost. Each command of the plan must name exactly one
applicable operator, and the goal must hold at the end.
"""

from __future__ import annotations

import re
from functools import cache

import fast_downward
from alfworld.agents.utils.misc import Demangler
from textworld.envs.pddl import logic as pddl_logic
from textworld.generator.game import EntityInfo

from environments.alfworld.engine import memoized_translation
from environments.alfworld.oracle import oracle_plan
from environments.alfworld.pddl_problem import game_logic
from environments.alfworld.world import World

COMMANDS = (  # command pattern -> (PDDL action, its parameters named in the command)
    (re.compile(r"go to (?P<r>.+)"), "gotolocation"),
    (re.compile(r"open (?P<r>.+)"), "openobject"),
    (re.compile(r"take (?P<o>.+) from (?P<r>.+)"), "pickupobject"),
    (re.compile(r"move (?P<o>.+) to (?P<r>.+)"), "putobject"),
    (re.compile(r"(?P<verb>heat|cool|clean) (?P<o>.+) with (?P<r>.+)"), "{verb}object"),
    (re.compile(r"use (?P<o>.+)"), "toggleobject"),
)


@cache
def _downward_lib():
    return fast_downward.load_lib()


@cache
def _logic(domain: str) -> pddl_logic.GameLogic:
    """Actions and command templates (the task line of a game's grammar plays no part here)."""
    return pddl_logic.GameLogic(domain=domain, grammar=game_logic()[1])


def _entity_infos(state: pddl_logic.PddlState) -> dict[str, EntityInfo]:
    """Entity ids -> infos named as alfworld's AlfredDemangler names them ("apple 1")."""
    infos = {v.name: EntityInfo(v.name, v.type) for fact in state.facts for v in fact.arguments}
    demangler = Demangler(game_infos=infos, shuffle=False)
    for info in infos.values():
        info.name = demangler.demangle_alfred_name(info.id)
    return infos


def _operator(state: pddl_logic.PddlState, command: str, ids: dict[str, str]):
    """The single applicable operator ``command`` names, or None."""
    for pattern, name in COMMANDS:
        match = pattern.fullmatch(command)
        if match:
            fields = match.groupdict()
            name = name.format(verb=fields.pop("verb", ""))
            wanted = {key: ids.get(value) for key, value in fields.items()}
            found = [a for a in state.all_applicable_actions() if a.name == name
                     and all({p.name: v.name for p, v in a.mapping.items()}.get(k) == v for k, v in wanted.items())]
            return found[0] if len(found) == 1 else None
    return None


def play_plan(domain: str, problem: str, traj: dict, max_steps: int = 60) -> list[str] | None:
    """The oracle's plan for this game if executing it on the PDDL state reaches the goal, else None."""
    with memoized_translation():
        state = pddl_logic.PddlState(_downward_lib(), problem, _logic(domain))
    infos = _entity_infos(state)
    ids = {info.name.strip(): key for key, info in infos.items()}
    params = traj["pddl_params"]
    plan = oracle_plan(World.from_facts(state.facts, infos), traj["task_type"], params["object_target"],
                       params["parent_target"], params["toggle_target"])
    if not plan or len(plan) > max_steps or state.check_goal():
        return None
    for command in plan:
        operator = _operator(state, command, ids)
        if operator is None:
            return None
        state.apply(operator)
    return plan if state.check_goal() else None
