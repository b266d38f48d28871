"""``agentgym/ScienceWorld-v0``: ScienceWorld's 30 elementary-science task types on its own simulator."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from agentgym.core.env import Outcome, TextEnv
from environments.scienceworld.gold_paths import read_gold, write_gold
from environments.scienceworld.tasks import TASK_TYPES, parse_task_id, split_task_ids

UNKNOWN_COMMAND = "No known action matches that input."  # the simulator's answer to text it cannot parse
AMBIGUOUS = "Ambiguous request"  # the simulator asks for a number before it acts
MAX_COMMAND_CHARS = 300  # the longest gold command is under 150 characters; longer text is refused unparsed
COMMAND_HINT = (
    " ScienceWorld commands look like: look around, look at OBJ, go to LOCATION, open OBJ, pick up OBJ, "
    "put down OBJ, move OBJ to OBJ, pour OBJ in OBJ, focus on OBJ, use OBJ on OBJ, activate OBJ, "
    "connect OBJ to OBJ, mix OBJ, wait, inventory, task.")
FAILED = "\n(That ended the task unsuccessfully: ScienceWorld's score for it fell below zero.)"


def normalise_command(action: str) -> str:
    """Single spaces, no trailing full stop: "Open  door to kitchen." -> "Open door to kitchen"."""
    return re.sub(r"\s+", " ", action).strip().rstrip(".").strip()


def read_state(engine) -> dict[str, Any]:
    """What ``scienceworld.ScienceWorldEnv.step`` reads from the simulator after a command, less the task
    description (fixed per task): score (0-100, negative when failed), completed, moves, look, inventory
    and the valid action-object combinations (fetched in one round trip: ``engine.valid_actions``)."""
    server = engine.server
    score = int(round(100 * server.getScore()))
    return {"score": score, "completed": bool(server.getCompleted()) or score < 0,
            "moves": int(server.getNumMoves()), "look": str(server.freeActionLook()),
            "inv": str(server.freeActionInventory()), "valid": engine.valid_actions()}


def ambiguity_choices(observation: str) -> list[str]:
    """The numbers an "Ambiguous request" prompt offers ("0", "1", ...)."""
    return re.findall(r"^(\d+):", observation, flags=re.MULTILINE)


class ScienceWorldEnv(TextEnv):
    """
    ## Description
    ScienceWorld (Wang et al., 2022): 30 task types of an elementary science curriculum (boil or freeze
    a substance, measure a melting point, build and test circuits, grow plants, mix paints, Mendelian
    genetics, inclined planes) in a simulated house with a kitchen, workshop, greenhouse and outside.
    Played by the simulator of the ``scienceworld`` package (a Scala program on a JVM, driven through
    py4j); see ``engine.py`` for why the JVM runs with constant identity hashes (deterministic play).

    ## Observation
    After reset, the task description and the room the agent stands in; after an action, the
    simulator's answer ("The door is now open."). Text the simulator cannot parse gets its "No known
    action matches that input." with a hint of the command forms and ``action_valid=False``. When a
    command fits several objects the simulator answers "Ambiguous request" with numbered choices; the
    next action is the number.

    ## Actions
    ScienceWorld commands (``open door to kitchen``, ``pick up thermometer``, ``focus on ice``,
    ``use thermometer on water``, ``connect battery anode to orange wire terminal 1``, ``wait``, ...).
    ``admissible_actions``: the simulator's valid action-object combinations in this state (hundreds
    to thousands), plus the gold path's next command where it is phrased otherwise, or the numbers
    of an ambiguity prompt.

    ## Rewards
    The change of ScienceWorld's task score (0-100) divided by 100, per step; a score below zero (the
    task failed, e.g. by focusing on the wrong object) counts as 0. The rewards of an episode sum to
    its final score / 100; ``info["score"]`` is the score / 100.

    ## Starting State
    The task's variation: a seeded world (agent's room, objects, substances) fixed by the variation.

    ## Episode End
    Terminated when the simulator ends the task: completed (score 100, success) or failed (score below
    zero). Truncated after ``max_steps``: by default max(100, 2 x the gold path's length), so the
    expert always fits (100 without the expert).

    ## Splits
    ScienceWorld's own variation splits: train variations -> ``train`` (3,592 tasks), dev ->
    ``valid_seen`` (1,796), test -> ``valid_unseen`` (1,819). A task id is ``<task type>-<variation>``
    (``boil-21``); ids interleave the 30 types (``tasks.py``). A task id outside the split is refused.

    ## Arguments
    ``split``; ``max_steps``; ``num_tasks`` (a prefix of the split); ``task_types`` (a subset of the
    30 names in ``tasks.TASK_TYPES``); ``expert`` (True: the simulator's gold action sequence, computed
    at the first load of a task and cached, is the expert while the agent follows it; off the path the
    expert has no action); ``deterministic`` (True: the JVM's constant identity hashes, so a task plays
    the same on every load; False: the simulator's default JVM, faster but loads of one task differ in
    object order and random events, so no gold cache and no reproducible transcripts).

    ## Version History
    * v0: initial version (scienceworld 1.2.3).
    """

    prompt_intro = (
        "You are an agent in ScienceWorld, a simulated house with a kitchen, workshop, greenhouse and outdoors: "
        "you move between rooms, pick up and use objects and instruments, heat, cool, mix, connect and grow "
        "things to complete an elementary science task. Focus on an object (`focus on X`) only when the task "
        "says so: focusing on the wrong one fails the task."
    )
    default_max_steps = 100
    # every engine is its own JVM process and a step is a socket round trip that releases the GIL, so one
    # process steps many engines on threads in parallel; worker processes would add nothing but memory
    pool_backend = "thread"
    concurrent_steps = True

    def __init__(self, split: str = "train", max_steps: int | None = None, num_tasks: int | None = None,
                 task_types: Sequence[str] | None = None, expert: bool = True, deterministic: bool = True,
                 render_mode: str | None = None):
        super().__init__(split=split, max_steps=max_steps, render_mode=render_mode)
        unknown = set(task_types or ()) - set(TASK_TYPES)
        if unknown:
            raise ValueError(f"Unknown ScienceWorld task types {sorted(unknown)}; choose from {TASK_TYPES}")
        self.task_types = tuple(t for t in TASK_TYPES if t in set(task_types or TASK_TYPES))
        self.expert, self.deterministic = bool(expert), bool(deterministic)
        self._fixed_max_steps = max_steps
        self._task_limit = num_tasks
        self._engine = None
        self._task_type = ""
        self._task_text = ""
        self._gold: list[str] = []
        self._gold_index: int | None = None  # gold actions taken so far; None once the agent left the path
        self._score = 0  # ScienceWorld's score, clipped at 0
        self._infos: dict[str, Any] = {}
        self._observation = ""

    # ---- tasks -------------------------------------------------------------------------------
    def task_ids(self) -> Sequence[str]:
        ids = split_task_ids(self.split, self.task_types)
        return ids[: self._task_limit] if self._task_limit is not None else ids

    def engine(self):
        """The simulator, started on first use (one JVM per environment)."""
        if self._engine is None:
            try:
                from environments.scienceworld.engine import (
                    BASE_JVM_OPTIONS,
                    DETERMINISTIC_JVM_OPTIONS,
                    ScienceWorldEngine,
                )
            except ImportError as exc:
                raise ImportError("agentgym/ScienceWorld-v0 needs the scienceworld package: "
                                  "pip install 'agentgym-lab[scienceworld]' (and a Java runtime)") from exc
            self._engine = ScienceWorldEngine(DETERMINISTIC_JVM_OPTIONS if self.deterministic else BASE_JVM_OPTIONS)
        return self._engine

    def load_task(self, task_id: str) -> None:
        task_type, variation = parse_task_id(task_id)
        engine = self.engine()
        gold = read_gold(task_id) if self.expert and self.deterministic else None
        if self.expert and gold is None:
            engine.load(task_type, variation, "", generateGoldPath=True)
            gold = self._playable_prefix(engine, task_type, variation, engine.get_gold_action_sequence())
            if self.deterministic:
                write_gold(task_id, gold)
        else:
            engine.load(task_type, variation, "", generateGoldPath=False)
        self._task_type, self._gold = task_type, list(gold or [])
        self._gold_index = 0 if self.expert else None
        if not self._fixed_max_steps:
            self.max_steps = max(self.default_max_steps, 2 * len(self._gold))
        look = str(engine.server.step("look around"))  # scienceworld's reset: reload, then look around
        self._infos = read_state(engine)
        self._score = 0
        self._task_text = str(engine.server.freeActionTaskDesc()).replace("Task Description:", "").strip()
        self._observation = f"{self._task_text}\n\n{look}"

    @staticmethod
    def _playable_prefix(engine, task_type: str, variation: int, gold: list[str]) -> list[str]:
        """The gold sequence up to the action that completes the task (the simulator's gold agent sometimes
        adds a few after it), so ``expert_steps_left`` is exact. Played on the fresh world with bare
        simulator steps, then the task is loaded again."""
        server = engine.server
        for index, action in enumerate(gold):
            server.step(action)
            if server.getCompleted():
                gold = gold[: index + 1]
                break
        engine.load(task_type, variation, "", generateGoldPath=False)
        return gold

    def first_observation(self) -> str:
        return self._observation

    # ---- dynamics ----------------------------------------------------------------------------
    def apply(self, action: str) -> Outcome:
        command = normalise_command(action)
        if len(command) > MAX_COMMAND_CHARS:
            self._leave_gold_path_if(self._pending_ambiguity())
            return Outcome(f"That command is {len(command)} characters long; ScienceWorld commands are a few "
                           f"words. Nothing happened.{COMMAND_HINT}", action_valid=False)
        pending, moves_before = self._pending_ambiguity(), self._infos["moves"]
        engine = self.engine()
        observation = str(engine.server.step(command))
        valid = observation.strip() != UNKNOWN_COMMAND
        if valid:  # text the simulator could not parse changed nothing: the last state's infos still hold
            self._infos = read_state(engine)
        completed = self._infos["completed"]
        self._track_gold_path(command, valid, pending, moved=self._infos["moves"] != moves_before,
                              ambiguous=observation.startswith(AMBIGUOUS))
        raw_score = self._infos["score"]
        score = max(raw_score, 0)
        reward, self._score = (score - self._score) / 100.0, score
        success = bool(completed) and raw_score >= 100
        if not valid:
            observation += COMMAND_HINT
        elif completed and raw_score < 0:
            observation += FAILED
        self._observation = observation
        return Outcome(observation, reward=reward, terminated=bool(completed), success=success,
                       action_valid=valid, score=score / 100.0)

    def _pending_ambiguity(self) -> bool:
        return self._observation.startswith(AMBIGUOUS)

    def _track_gold_path(self, command: str, valid: bool, pending: bool, moved: bool, ambiguous: bool) -> None:
        """On the path after the next gold action; still on it after text the simulator refused or a free
        action (look around, inventory: no move counted); off it after anything else."""
        if self._gold_index is None:
            return
        if self._gold_index < len(self._gold) and command.lower() == self._gold[self._gold_index].lower():
            self._gold_index += 1
            return
        self._leave_gold_path_if(pending or (valid and (moved or ambiguous)))

    def _leave_gold_path_if(self, condition: bool) -> None:
        if condition:
            self._gold_index = None

    # ---- info --------------------------------------------------------------------------------
    def expert_action(self) -> str | None:
        """The gold path's next command while the agent is on it."""
        k = self._gold_index
        return self._gold[k] if k is not None and k < len(self._gold) and not self._done else None

    def state_info(self) -> dict[str, Any]:
        infos = self._infos
        expert = self.expert_action()
        admissible = ambiguity_choices(self._observation) if self._pending_ambiguity() else list(infos["valid"])
        if expert is not None and expert not in admissible:
            admissible.append(expert)
        pending = f"\nawaiting a choice: {self._observation}" if self._pending_ambiguity() else ""
        left = len(self._gold) - self._gold_index if self._gold_index is not None else None
        return {
            "task": self._task_text,
            "task_type": self._task_type,
            "admissible_actions": admissible,
            # what the agent can see of the state: the room, the inventory and the task's progress
            "state_key": f"{infos['look']}\n{infos['inv']}\nscore={self._score}{pending}",
            "expert_action": expert,
            "expert_steps_left": left,
        }

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
        self._engine = None
