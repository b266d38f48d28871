"""FrozenLake's short rule: step toward the goal onto ice, else sideways onto ice, never into a hole.

It reads the compass line and the four neighbours of the observation ("The goal is 2 rows south and
1 column east. North: ice. South: a hole. ..."), which is all the agent is shown. Being memoryless
like the history-free policy, it can loop where a hole blocks the way.
"""

from __future__ import annotations

import re

from policies.heuristics.view import PromptView

DIRECTIONS = ("north", "south", "east", "west")
OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}
_OFFSET = re.compile(r"(\d+) (?:rows? (north|south)|columns? (east|west))")
_NEIGHBOUR = re.compile(r"(North|South|East|West): (ice|a hole|the goal|the edge of the lake)\.")


def act(view: PromptView) -> str:
    obs = view.observation
    compass = obs.partition("The goal is ")[2].partition(".")[0]
    offsets = {m.group(2) or m.group(3): int(m.group(1)) for m in _OFFSET.finditer(compass)}
    tiles = {d.lower(): tile for d, tile in _NEIGHBOUR.findall(obs)}
    toward = sorted(offsets, key=lambda d: -offsets[d])  # the longer way first
    for direction in toward:
        if tiles.get(direction) in ("ice", "the goal"):
            return direction
    ice = [d for d in DIRECTIONS if tiles.get(d) == "ice"]
    sideways = [d for d in ice if OPPOSITE[d] not in toward] or ice
    return sideways[0] if sideways else "north"  # north: surrounded by holes and edges, nothing safe is left
