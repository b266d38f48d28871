"""The game state as alfworld's engine reports it (its PDDL facts), read into plain Python.

Used for two things that must not depend on the observation text: the anchor ``state_key``
(agent location, inventory, opened receptacles, object states, object locations) and the oracle
planner. Static facts (types, canContain, affordances) are read once per game.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field

STATE_PREDICATES = {"ishot": "hot", "iscool": "cool", "isclean": "clean", "istoggled": "toggled",
                    "issliced": "sliced", "ison": "on"}


def _args(fact, names: dict | None = None) -> list[str]:
    if names is None:
        return [arg.name.strip() for arg in fact.arguments]
    return [names[arg.name].name.strip() for arg in fact.arguments]


@dataclass
class World:
    """Mutable game state plus the static tables the oracle needs."""

    agent_loc: str = ""
    held: str | None = None
    where: dict[str, str] = field(default_factory=dict)  # object -> receptacle
    opened: set[str] = field(default_factory=set)
    states: dict[str, set[str]] = field(default_factory=lambda: {v: set() for v in STATE_PREDICATES.values()})
    loc_of: dict[str, str] = field(default_factory=dict)  # receptacle -> location
    openable: set[str] = field(default_factory=set)
    otype: dict[str, str] = field(default_factory=dict)  # object -> lower-case type ("apple")
    rtype: dict[str, str] = field(default_factory=dict)  # receptacle -> lower-case type
    can_contain: set[tuple[str, str]] = field(default_factory=set)  # (rtype, otype)

    @classmethod
    def from_facts(cls, facts: Iterable, entity_infos: dict | None = None) -> World:
        """From readable facts, or from raw engine facts plus ``entity_infos`` (id -> demangled name)."""
        world = cls()
        for fact in facts:
            world._read(fact.name, _args(fact, entity_infos))
        return world

    @classmethod
    def from_engine_state(cls, state) -> World:
        """From a textworld ``GameState`` of ``PddlEnv`` (its raw ``_facts``, named as the player sees them)."""
        return cls.from_facts(state["_facts"], state["_entity_infos"])

    def _read(self, name: str, args: list[str]) -> None:
        if name == "atlocation":
            self.agent_loc = args[1]
        elif name == "holds":
            self.held = args[1]
        elif name == "inreceptacle":
            self.where[args[0]] = args[1]
        elif name == "opened":
            self.opened.add(args[0])
        elif name in STATE_PREDICATES:
            self.states[STATE_PREDICATES[name]].add(args[0])
        elif name == "receptacleatlocation":
            self.loc_of[args[0]] = args[1]
        elif name == "openable":
            self.openable.add(args[0])
        elif name == "objecttype":
            self.otype[args[0]] = _type_name(args[1])
        elif name == "receptacletype":
            self.rtype[args[0]] = _type_name(args[1])
        elif name == "cancontain":
            self.can_contain.add((_type_name(args[0]), _type_name(args[1])))

    def clone(self) -> World:
        """A copy whose dynamic state can change independently (static tables are shared)."""
        twin = copy.copy(self)
        twin.where = dict(self.where)
        twin.opened = set(self.opened)
        twin.states = {k: set(v) for k, v in self.states.items()}
        return twin

    def receptacles_here(self) -> list[str]:
        return sorted(r for r, loc in self.loc_of.items() if loc == self.agent_loc)

    def state_key(self) -> str:
        """Canonical text of the dynamic state; identical states give identical keys."""
        here = ",".join(self.receptacles_here()) or "middle of the room"
        parts = [f"at={here}", f"holding={self.held or 'nothing'}", f"open={','.join(sorted(self.opened))}"]
        parts += [f"{s}={','.join(sorted(objs))}" for s, objs in sorted(self.states.items()) if objs]
        parts.append("in=" + ",".join(f"{o}@{r}" for o, r in sorted(self.where.items())))
        return "; ".join(parts)


def _type_name(value: str) -> str:
    value = value.strip().lower()
    return value[:-4] if value.endswith("type") else value
