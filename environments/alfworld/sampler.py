"""Sample one ALFWorld task on a floor plan: targets, object placements, the agent's start.

Mirrors how ALFRED sampled its scenes: the target object type is chosen among the types the task
allows (heatable, coolable, cleanable, ...), the goal receptacle among receptacle types that can
contain it, and every object type of the scene gets one to three instances in receptacles allowed
by the canContain table. Target instances never start in a goal receptacle, so no game starts won.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from alfworld.gen import constants

from environments.alfworld.scenes import Receptacle, Scene

STATE_CHANGE = {  # task type -> (object property, receptacle type that changes the state)
    "pick_clean_then_place_in_recep": ("Cleanable", "SinkBasin"),
    "pick_heat_then_place_in_recep": ("Heatable", "Microwave"),
    "pick_cool_then_place_in_recep": ("Coolable", "Fridge"),
}
LAMP_HOLDERS = ("SideTable", "Desk", "Dresser", "Shelf", "CoffeeTable", "DiningTable", "TVStand", "ArmChair",
                "Sofa", "Bed")


@dataclass(frozen=True)
class Placement:
    """One object instance: THOR-style id, type, and the receptacle instance holding it."""

    thor_id: str
    otype: str
    receptacle: Receptacle


@dataclass(frozen=True)
class TaskSpec:
    task_type: str
    scene: Scene
    object_target: str
    parent_target: str  # "" for look_at_obj_in_light
    toggle_target: str  # "" unless look_at_obj_in_light
    placements: tuple[Placement, ...]
    agent_pose: tuple[float, float, int, int]
    template_index: int


def _choose_targets(scene: Scene, task_type: str, rng: np.random.Generator) -> tuple[str, str, str] | None:
    """(object type, goal receptacle type, lamp type) or None when the scene cannot pose this task."""
    candidates = list(scene.object_types)
    excluded_parent = set()
    if task_type in STATE_CHANGE:
        prop, tool = STATE_CHANGE[task_type]
        candidates = [o for o in candidates if o in constants.VAL_ACTION_OBJECTS[prop]]
        excluded_parent = {tool, "BathtubBasin"} if tool == "SinkBasin" else {tool}
    rng.shuffle(candidates)
    for otype in candidates:
        containers = {r.rtype for r in scene.containers_of(otype)}
        if task_type == "look_at_obj_in_light":
            if scene.lamp_types and _lamp_holders(scene):
                return otype, "", str(rng.choice(scene.lamp_types))
            return None
        parents = sorted(containers - excluded_parent)
        if not parents:
            continue
        parent = str(rng.choice(parents))
        if containers - {parent}:  # somewhere else to start from
            return otype, parent, ""
    return None


def _lamp_holders(scene: Scene) -> list[Receptacle]:
    return [r for r in scene.receptacles if r.rtype in LAMP_HOLDERS]


def _instance_id(otype: str, receptacle: Receptacle, k: int) -> str:
    """A THOR-style id "Type|x|y|z" near the receptacle, unique within the game."""
    x, z = receptacle.pose[0], receptacle.pose[1]
    return f"{otype}|{x + 0.01 * k:+06.2f}|{0.5 + 0.01 * k:+06.2f}|{z - 0.01 * k:+06.2f}"


def _place_objects(scene: Scene, task_type: str, target: str, parent: str,
                   rng: np.random.Generator) -> list[Placement]:
    placements: list[Placement] = []
    for otype in scene.object_types:
        holders = scene.containers_of(otype)
        if otype == target:
            holders = [r for r in holders if r.rtype != parent]
            low, high = (2, 4) if task_type == "pick_two_obj_and_place" else (1, 3)
        else:
            low, high = 1, 2
        for _ in range(int(rng.integers(low, high + 1))):
            holder = holders[int(rng.integers(len(holders)))]
            placements.append(Placement(_instance_id(otype, holder, len(placements) + 1), otype, holder))
    holders = _lamp_holders(scene)
    for lamp in scene.lamp_types if holders else ():
        holder = holders[int(rng.integers(len(holders)))]
        placements.append(Placement(_instance_id(lamp, holder, len(placements) + 1), lamp, holder))
    return placements


def _agent_pose(scene: Scene, rng: np.random.Generator) -> tuple[float, float, int, int]:
    """A navigable floor point that is not a receptacle's interaction pose ("middle of a room")."""
    taken = {(r.pose[0], r.pose[1], r.pose[2]) for r in scene.receptacles}
    for _ in range(100):
        x, z = scene.floor_points[int(rng.integers(len(scene.floor_points)))]
        rotation = 90 * int(rng.integers(4))
        if (float(x), float(z), rotation) not in taken:
            return float(x), float(z), rotation, 30
    return 0.0, 0.0, 0, 60  # horizon 60 is never a receptacle pose


def sample_task(scene: Scene, task_type: str, rng: np.random.Generator) -> TaskSpec | None:
    """One task of ``task_type`` on ``scene`` drawn with ``rng``, or None if the scene cannot pose it."""
    targets = _choose_targets(scene, task_type, rng)
    if targets is None:
        return None
    target, parent, toggle = targets
    placements = _place_objects(scene, task_type, target, parent, rng)
    if sum(p.otype == target for p in placements) < (2 if task_type == "pick_two_obj_and_place" else 1):
        return None
    return TaskSpec(task_type, scene, target, parent, toggle, tuple(placements), _agent_pose(scene, rng),
                    int(rng.integers(2)))
