"""FrozenLake's short rule: step toward the goal onto ice, else sideways onto ice, never into a hole.

It reads the compass line and the four neighbours of the observation ("The goal is 2 rows south and
1 column east. North: ice. South: a hole. ..."), which is all the agent is shown, and on FrozenLake-v1 the
diagonal tiles too: a sideways step goes where the tile beyond it toward the goal is ice. Being memoryless
like the history-free policy, it can loop where a hole blocks the way.
"""

from __future__ import annotations

import re

from policies.heuristics.view import PromptView

DIRECTIONS = ("north", "south", "east", "west")
OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}
_OFFSET = re.compile(r"(\d+) (?:rows? (north|south)|columns? (east|west))")
_NEIGHBOUR = re.compile(r"\b(North|South|East|West|North(?:east|west)|South(?:east|west)): "
                        r"(ice|a hole|the goal|the edge of the lake)\.")
SAFE = ("ice", "the goal")


def act(view: PromptView) -> str:
    obs = view.observation
    compass = obs.partition("The goal is ")[2].partition(".")[0]
    tiles = {d.lower(): tile for d, tile in _NEIGHBOUR.findall(obs)}  # v0: four; v1: eight
    toward = _toward(compass)
    for direction in toward:
        if tiles.get(direction) in SAFE:
            return direction
    ice = [d for d in DIRECTIONS if tiles.get(d) == "ice"]
    sideways = [d for d in ice if OPPOSITE[d] not in toward] or ice
    leads_on = [d for d in sideways if any(tiles.get(_diagonal(d, t)) in SAFE for t in toward)]
    chosen = leads_on or sideways
    return chosen[0] if chosen else "north"  # north: surrounded by holes and edges, nothing safe is left


def _toward(compass: str) -> list[str]:
    """The directions toward the goal, the longer way first: from v0's '2 rows south and 1 column east' or
    v1's 'south and east, farther south' / 'straight south'."""
    offsets = {m.group(2) or m.group(3): int(m.group(1)) for m in _OFFSET.finditer(compass)}
    if offsets:
        return sorted(offsets, key=lambda d: -offsets[d])
    named = [d for d in DIRECTIONS if re.search(rf"\b{d}\b", compass.partition(",")[0])]
    farther = compass.partition("farther ")[2].strip()
    return sorted(named, key=lambda d: d != farther)


def _diagonal(a: str, b: str) -> str:
    """'northeast' for (east, north) or (north, east); '' when a and b lie on one axis."""
    vertical = [d for d in (a, b) if d in ("north", "south")]
    horizontal = [d for d in (a, b) if d in ("east", "west")]
    return vertical[0] + horizontal[0] if len(vertical) == 1 and len(horizontal) == 1 else ""
