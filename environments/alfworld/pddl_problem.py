"""Write a sampled task as ALFWorld game files: a PDDL problem, ``game.tw-pddl`` and ``traj_data.json``.

The problem follows ALFRED's ``initial_state.pddl`` conventions (mangled THOR ids such as
``Apple_bar__minus_01_dot_23_bar_...``, ``loc|x|z|rotation|horizon`` locations, ``<Type>Type``
constants) so alfworld's Demangler names entities exactly as in the official games ("apple 1",
"sinkbasin 1"). The goal is ALFRED's goal PDDL from ``alfworld.gen.goal_library``; the task line is
one of its templates, written into the grammar as ``alfworld-generate`` does.
"""

from __future__ import annotations

from alfworld.gen import constants, goal_library
from alfworld.info import ALFRED_PDDL_PATH, ALFRED_TWL2_PATH

from environments.alfworld.sampler import TaskSpec

# Types the domain's actions name as constants: every problem must declare them.
DOMAIN_RTYPES = ("SinkBasin", "Microwave", "Fridge")
DOMAIN_OTYPES = ("Knife", "ButterKnife")
_MANGLE = (("|", "_bar_"), ("-", "_minus_"), ("+", "_plus_"), (".", "_dot_"), (",", "_comma_"))
_PROPERTIES = (("Cleanable", "cleanable"), ("Heatable", "heatable"), ("Coolable", "coolable"),
               ("Toggleable", "toggleable"), ("Sliceable", "sliceable"))


def mangle(thor_id: str) -> str:
    for raw, word in _MANGLE:
        thor_id = thor_id.replace(raw, word)
    return thor_id


def location_name(pose: tuple[float, float, int, int]) -> str:
    """ALFRED's location id: grid x, grid z (0.25 m cells), rotation / 90, camera horizon."""
    x, z, rotation, horizon = pose
    return mangle(f"loc|{round(x / 0.25)}|{round(z / 0.25)}|{rotation // 90}|{horizon}")


def task_description(spec: TaskSpec) -> str:
    """ALFWorld's templated task line, e.g. "put a hot apple in fridge"."""
    template = goal_library.gdict[spec.task_type]["templates"][spec.template_index]
    return template.format(obj=spec.object_target.lower(), recep=spec.parent_target.lower(),
                           toggle=spec.toggle_target.lower(), mrecep="")


def _goal(spec: TaskSpec) -> str:
    pddl = goal_library.gdict[spec.task_type]["pddl"]
    return pddl.format(obj=spec.object_target, recep=spec.parent_target, toggle=spec.toggle_target,
                       mrecep="").replace("#", "-")


def _init_facts(spec: TaskSpec) -> list[str]:
    facts = [f"(atLocation agent1 {location_name(spec.agent_pose)})"]
    for r in spec.scene.receptacles:
        name = mangle(r.thor_id)
        facts += [f"(receptacleType {name} {r.rtype}Type)", f"(receptacleAtLocation {name} {location_name(r.pose)})"]
        if r.rtype in constants.OPENABLE_CLASS_SET:
            facts.append(f"(openable {name})")
    for p in spec.placements:
        name = mangle(p.thor_id)
        facts += [f"(objectType {name} {p.otype}Type)", f"(inReceptacle {name} {mangle(p.receptacle.thor_id)})",
                  f"(objectAtLocation {name} {location_name(p.receptacle.pose)})"]
        if p.otype not in constants.VAL_ACTION_OBJECTS["Toggleable"]:
            facts.append(f"(pickupable {name})")
        facts += [f"({pred} {name})" for prop, pred in _PROPERTIES if p.otype in constants.VAL_ACTION_OBJECTS[prop]]
    otypes = {p.otype for p in spec.placements}
    for rtype in sorted({r.rtype for r in spec.scene.receptacles}):
        facts += [f"(canContain {rtype}Type {o}Type)" for o in sorted(otypes)
                  if o in constants.VAL_RECEPTACLE_OBJECTS[rtype]]
    return facts


def problem_pddl(spec: TaskSpec, name: str) -> str:
    """The PDDL problem text of ``spec`` against alfworld's ``alfred.pddl`` domain."""
    rtypes = sorted({r.rtype for r in spec.scene.receptacles} | set(DOMAIN_RTYPES))
    otypes = sorted({p.otype for p in spec.placements} | set(DOMAIN_OTYPES) | {spec.object_target})
    locations = sorted({location_name(r.pose) for r in spec.scene.receptacles} | {location_name(spec.agent_pose)})
    objects = (["agent1 - agent"] + [f"{t}Type - otype" for t in otypes] + [f"{t}Type - rtype" for t in rtypes]
               + [f"{mangle(p.thor_id)} - object" for p in spec.placements]
               + [f"{mangle(r.thor_id)} - receptacle" for r in spec.scene.receptacles]
               + [f"{loc} - location" for loc in locations])
    lines = [f"(define (problem {name})", "(:domain alfred)", "(:objects", *objects, ")", "(:init",
             *_init_facts(spec), ")"]
    return "\n".join(lines) + "\n" + _goal(spec).strip() + "\n"


def game_logic() -> tuple[str, str]:
    """alfworld's shipped PDDL domain and text grammar."""
    with open(ALFRED_PDDL_PATH) as f:
        domain = f.read()
    with open(ALFRED_TWL2_PATH) as f:
        grammar = f.read()
    return domain, grammar


def game_json(spec: TaskSpec, name: str) -> dict:
    """The ``game.tw-pddl`` content (before the solvability check fills ``solvable``/``walkthrough``)."""
    domain, grammar = game_logic()
    return {"pddl_domain": domain, "grammar": grammar.replace("UNKNOWN GOAL", task_description(spec)),
            "pddl_problem": problem_pddl(spec, name), "solvable": None, "walkthrough": None}


def traj_data(spec: TaskSpec, task_id: str, trial: str) -> dict:
    """The subset of ALFRED's ``traj_data.json`` that alfworld reads (task type, targets, scene)."""
    return {
        "task_id": trial,
        "task_type": spec.task_type,
        "pddl_params": {"object_target": spec.object_target, "parent_target": spec.parent_target,
                        "toggle_target": spec.toggle_target, "mrecep_target": "", "object_sliced": False},
        "scene": {"floor_plan": f"FloorPlan{spec.scene.number}", "scene_num": spec.scene.number},
        "turk_annotations": {"anns": [{"task_desc": task_description(spec), "high_descs": [], "votes": []}]},
        "agentgym": {"task_id": task_id, "generator": "environments.alfworld"},
    }


def task_folder(spec: TaskSpec) -> str:
    """ALFRED's task folder name, e.g. ``pick_heat_then_place_in_recep-Apple-None-Fridge-12``."""
    parent = spec.parent_target or spec.toggle_target
    return f"{spec.task_type}-{spec.object_target}-None-{parent}-{spec.scene.number}"
