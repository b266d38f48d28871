"""ALFRED floor plans as shipped by ``pip install alfworld``: receptacles, object types, scene splits.

Each of the 120 AI2-THOR floor plans comes with ``FloorPlan<N>-objects.json`` (the object types in
the scene), ``FloorPlan<N>-openable.json`` (every reachable receptacle instance and the agent pose
that interacts with it) and ``FloorPlan<N>-layout.npy`` (navigable floor points). A few appliance
receptacles that ALFWorld games show (stove burners, coffee machine, toaster, towel holders) are in
the object list but have no precomputed pose; we add them with synthetic poses so kitchens and
bathrooms hold the receptacles ALFWorld players expect.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache

import numpy as np
from alfworld.gen import constants

LAYOUT_DIR = os.path.join(os.path.dirname(constants.__file__), "layouts")
TASK_TYPES = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)
# Receptacle types that appear in the object list but not in openable.json: (type, instances).
SYNTHETIC_RECEPTACLES = {"StoveBurner": 4, "CoffeeMachine": 1, "Toaster": 1, "TowelHolder": 1,
                         "HandTowelHolder": 1, "ToiletPaperHanger": 1, "GarbageCan": 1, "LaundryHamper": 1, "Toilet": 1}
LAMP_TYPES = ("DeskLamp", "FloorLamp")
PICKUPABLE = frozenset().union(*constants.VAL_RECEPTACLE_OBJECTS.values()) - {
    name for name in constants.OBJECTS_WSLICED if name.endswith("Sliced")}


@dataclass(frozen=True)
class Receptacle:
    """One receptacle instance: its THOR id, type and the agent pose (x, z, rotation, horizon) at it."""

    thor_id: str
    rtype: str
    pose: tuple[float, float, int, int]


@dataclass(frozen=True)
class Scene:
    number: int
    kind: str  # Kitchen, LivingRoom, Bedroom, Bathroom
    receptacles: tuple[Receptacle, ...]
    object_types: tuple[str, ...]  # pickupable types that some receptacle here can contain
    lamp_types: tuple[str, ...]
    floor_points: np.ndarray  # (n, 2) navigable (x, z)

    def receptacle_types(self) -> set[str]:
        return {r.rtype for r in self.receptacles}

    def containers_of(self, otype: str) -> list[Receptacle]:
        """Receptacles that may hold ``otype`` (ALFRED's canContain table)."""
        return [r for r in self.receptacles if otype in constants.VAL_RECEPTACLE_OBJECTS.get(r.rtype, ())]


def scene_kind(number: int) -> str:
    for kind, numbers in constants.SCENE_TYPE.items():
        if number in numbers:
            return kind
    raise ValueError(f"FloorPlan{number} is not an ALFRED scene")


def _receptacle_type(thor_id: str) -> str:
    parts = thor_id.split("|")
    return parts[-1] if len(parts) == 5 else parts[0]


def _synthetic_receptacles(number: int, present: set[str], have: set[str], points: np.ndarray) -> list[Receptacle]:
    """Receptacles listed in the scene but without a precomputed pose: placed on floor points."""
    extra = []
    for k, (rtype, count) in enumerate(sorted(SYNTHETIC_RECEPTACLES.items())):
        if rtype not in present or rtype in have:
            continue
        for i in range(count):
            x, z = points[(7 * k + 3 * i + number) % len(points)]
            thor_id = f"{rtype}|{x + 0.01 * (i + 1):+06.2f}|{0.9:+06.2f}|{z:+06.2f}"
            extra.append(Receptacle(thor_id, rtype, (float(x), float(z), 90 * ((i + k) % 4), 30)))
    return extra


@cache
def load_scene(number: int) -> Scene:
    """Read one floor plan from alfworld's package data (cached)."""
    stem = os.path.join(LAYOUT_DIR, f"FloorPlan{number}")
    with open(stem + "-objects.json") as f:
        present = set(json.load(f))
    with open(stem + "-openable.json") as f:
        poses = json.load(f)
    points = np.load(stem + "-layout.npy")
    receptacles = [Receptacle(tid, _receptacle_type(tid), (float(p[0]), float(p[1]), int(p[2]), int(p[3])))
                   for tid, p in sorted(poses.items())
                   if _receptacle_type(tid) in constants.VAL_RECEPTACLE_OBJECTS]
    have = {r.rtype for r in receptacles}
    receptacles += _synthetic_receptacles(number, present, have, points)
    holdable = {o for r in receptacles for o in constants.VAL_RECEPTACLE_OBJECTS[r.rtype]}
    object_types = tuple(sorted(t for t in present if t in PICKUPABLE and t in holdable))
    lamps = tuple(t for t in LAMP_TYPES if t in present)
    return Scene(number, scene_kind(number), tuple(receptacles), object_types, lamps, points)


def eligible(scene: Scene, task_type: str) -> bool:
    """Whether ``task_type`` can be posed in ``scene`` (ALFRED's GOALS_VALID plus the needed appliances)."""
    if scene.kind not in constants.GOALS_VALID[task_type]:
        return False
    rtypes = scene.receptacle_types()
    needs = {"pick_clean_then_place_in_recep": "SinkBasin", "pick_heat_then_place_in_recep": "Microwave",
             "pick_cool_then_place_in_recep": "Fridge"}.get(task_type)
    if needs and needs not in rtypes:
        return False
    if task_type == "look_at_obj_in_light" and not scene.lamp_types:
        return False
    return bool(scene.object_types)


@cache
def eligible_scenes(task_type: str, unseen: bool) -> tuple[int, ...]:
    """Scene numbers (ALFRED's train scenes, or its test scenes when ``unseen``) that fit ``task_type``."""
    numbers = constants.TEST_SCENE_NUMBERS if unseen else constants.TRAIN_SCENE_NUMBERS
    return tuple(n for n in sorted(numbers) if eligible(load_scene(n), task_type))
