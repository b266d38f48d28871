"""An exact oracle for the six ALFWorld goals, planning over the engine's true facts.

Fast Downward (alfworld's ``planner`` expert) replans from scratch on every step and takes seconds
per search in a kitchen; alfworld's hand-coded expert explores from the observations, is not
optimal and gives no plan length. This oracle enumerates the few decisions a plan for these goals
makes (which target instance, which goal receptacle, which appliance, where to put down a wrong
object in hand) and simulates each candidate on a copy of the state; the shortest wins, ties go to
the first in sorted order. Every step costs one action, as an agent counts them, so the length of
the plan is the ``expert_steps_left`` progress signal.
"""

from __future__ import annotations

from itertools import permutations

from environments.alfworld.world import World

TREATMENTS = {  # task type -> (verb, appliance type, state the goal needs)
    "pick_clean_then_place_in_recep": ("clean", "sinkbasin", "clean"),
    "pick_heat_then_place_in_recep": ("heat", "microwave", "hot"),
    "pick_cool_then_place_in_recep": ("cool", "fridge", "cool"),
}
UNDOES = {"hot": "cool", "cool": "hot"}


class Sim:
    """A copy of the world that records the commands that change it."""

    def __init__(self, world: World):
        self.w = world.clone()
        self.commands: list[str] = []

    def goto(self, receptacle: str) -> None:
        if self.w.loc_of[receptacle] != self.w.agent_loc:
            self.commands.append(f"go to {receptacle}")
            self.w.agent_loc = self.w.loc_of[receptacle]

    def open(self, receptacle: str) -> None:
        if receptacle in self.w.openable and receptacle not in self.w.opened:
            self.commands.append(f"open {receptacle}")
            self.w.opened.add(receptacle)

    def take(self, obj: str) -> None:
        receptacle = self.w.where.pop(obj)
        self.goto(receptacle)
        self.open(receptacle)
        self.commands.append(f"take {obj} from {receptacle}")
        self.w.held = obj

    def put(self, receptacle: str) -> None:
        self.goto(receptacle)
        self.open(receptacle)
        self.commands.append(f"move {self.w.held} to {receptacle}")
        self.w.where[self.w.held] = receptacle
        self.w.held = None

    def treat(self, verb: str, appliance: str, state: str) -> None:
        self.goto(appliance)
        self.commands.append(f"{verb} {self.w.held} with {appliance}")
        self.w.states[state].add(self.w.held)
        self.w.states.get(UNDOES.get(state, ""), set()).discard(self.w.held)

    def use(self, lamp: str) -> None:
        self.goto(self.w.where[lamp])
        self.commands.append(f"use {lamp}")
        self.w.states["toggled"].add(lamp)


def _of_type(world: World, otype: str) -> list[str]:
    return sorted(o for o, t in world.otype.items() if t == otype)


def _receptacles_of_type(world: World, rtype: str) -> list[str]:
    return sorted(r for r, t in world.rtype.items() if t == rtype)


def _hands_free_options(world: World, keep: set[str]) -> list[Sim]:
    """Ways to start with empty hands (or holding something in ``keep``)."""
    if world.held is None or world.held in keep:
        return [Sim(world)]
    options = []
    for receptacle in sorted(world.loc_of):
        if (world.rtype[receptacle], world.otype[world.held]) in world.can_contain:
            sim = Sim(world)
            sim.put(receptacle)
            options.append(sim)
    return options


def _place_plans(world: World, obj: str, parent: str, treatment: tuple[str, str, str] | None) -> list[list[str]]:
    plans = []
    for goal in _receptacles_of_type(world, parent):
        for target in _of_type(world, obj):
            ready = treatment is None or target in world.states[treatment[2]]
            if ready and world.where.get(target) == goal:
                return [[]]
            appliances = _receptacles_of_type(world, treatment[1]) if treatment and not ready else [None]
            for start in _hands_free_options(world, {target}):
                for appliance in appliances:
                    sim = Sim(start.w)
                    sim.commands = list(start.commands)  # keep the put-down, if any
                    if sim.w.held != target:
                        sim.take(target)
                    if appliance is not None:
                        sim.treat(treatment[0], appliance, treatment[2])
                    sim.put(goal)
                    plans.append(sim.commands)
    return plans


def _place_two_plans(world: World, obj: str, parent: str) -> list[list[str]]:
    plans = []
    for goal in _receptacles_of_type(world, parent):
        inside = [o for o in _of_type(world, obj) if world.where.get(o) == goal]
        if len(inside) >= 2:
            return [[]]
        others = [o for o in _of_type(world, obj) if o not in inside]
        for chosen in permutations(others, 2 - len(inside)):
            if world.held in chosen and chosen[0] != world.held:
                continue  # the object in hand goes first
            for sim in _hands_free_options(world, set(chosen[:1])):
                for target in chosen:
                    if sim.w.held != target:
                        sim.take(target)
                    sim.put(goal)
                plans.append(sim.commands)
    return plans


def _look_plans(world: World, obj: str, toggle: str) -> list[list[str]]:
    plans = []
    for lamp in _of_type(world, toggle):
        lamp_loc = world.loc_of.get(world.where.get(lamp, ""))
        for target in _of_type(world, obj):
            if world.held == target and world.agent_loc == lamp_loc and lamp in world.states["toggled"]:
                return [[]]
            for sim in _hands_free_options(world, {target}):
                if sim.w.held != target:
                    sim.take(target)
                sim.goto(sim.w.where[lamp])
                if lamp not in sim.w.states["toggled"]:
                    sim.use(lamp)
                plans.append(sim.commands)
    return plans


def oracle_plan(world: World, task_type: str, obj: str, parent: str = "", toggle: str = "") -> list[str] | None:
    """Shortest command sequence that reaches the goal from ``world``; [] if reached, None if impossible.

    ``obj``, ``parent`` and ``toggle`` are ALFRED's ``pddl_params`` (any case: "Apple", "Fridge").
    """
    obj, parent, toggle = obj.lower(), parent.lower(), toggle.lower()
    if task_type == "look_at_obj_in_light":
        plans = _look_plans(world, obj, toggle)
    elif task_type == "pick_two_obj_and_place":
        plans = _place_two_plans(world, obj, parent)
    else:
        plans = _place_plans(world, obj, parent, TREATMENTS.get(task_type))
    return min(plans, key=len) if plans else None
