"""A corridor of doors whose cost per step and faults are set by arguments: the rollout engine's test bed."""

from __future__ import annotations

import hashlib
import os
import signal
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from agentgym.core.env import Outcome, TextEnv

WORDS = ("amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "heron", "indigo", "juniper")
NUM_TASKS = {"train": 1000, "valid_seen": 100, "valid_unseen": 100}


def door_word(task_id: str, room: int) -> str:
    digest = hashlib.sha256(f"{task_id}/{room}".encode()).digest()
    return WORDS[digest[0] % len(WORDS)]


def _claim(marker: str | None) -> bool:
    """True exactly once per marker file (across processes): the first caller creates it."""
    if marker is None:
        return False
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.close(fd)
    return True


class SyntheticEnv(TextEnv):
    """
    ## Description
    A corridor of ``length`` rooms. Each room's door is marked with a word; saying it opens the door.
    The game itself is trivial; its arguments make each step cost CPU time, wall time (like an HTTP
    environment) or memory, or make it fail, so the rollout engine's speed and fault handling can be
    measured and tested on a real registered environment.

    ## Observation
    "Room 2 of 5. The door ahead is marked 'cedar'." (padded to ``observation_chars`` when set).

    ## Actions
    One of three words (the admissible actions); the marked one opens the door, the others do nothing.

    ## Rewards
    1.0 on leaving the last room, 0 otherwise.

    ## Starting State
    Room 1 of the task's corridor (the words follow from the task id).

    ## Episode End
    Terminated on leaving the last room; truncated after ``max_steps`` (default 3 x length).

    ## Splits
    ``train`` 1000 tasks, ``valid_seen`` and ``valid_unseen`` 100 each (different ids, same game).

    ## Arguments
    ``length`` rooms (5); ``step_cpu_s``: CPU seconds burnt per step, in this thread (0);
    ``step_sleep_s``: seconds slept per step (0); ``observation_chars``: pad observations to this
    length (0 = no padding); ``fail_rate``: probability that a step raises ``RuntimeError`` (0);
    ``hang_once_file``: the first step that creates this file (in any process) sleeps ``hang_s``;
    ``kill_once_file``: the first step that creates this file sends SIGKILL to its own process (use
    only with the process or Ray backend); ``failure_log``: a file the id of every episode a fault
    ended is appended to (the task text then names its episode id); ``concurrent_steps``: False makes a
    pool worker step these environments one after another on one thread, as it does TextWorld's.

    ## Version History
    * v0: initial version.
    """

    has_expert = True
    prompt_history_len = 0
    prompt_intro = "You walk through a corridor of rooms; saying the word written on a door opens it."

    def __init__(self, split: str = "train", max_steps: int | None = None, length: int = 5,
                 step_cpu_s: float = 0.0, step_sleep_s: float = 0.0, observation_chars: int = 0,
                 fail_rate: float = 0.0, hang_once_file: str | None = None, hang_s: float = 3600.0,
                 kill_once_file: str | None = None, failure_log: str | None = None,
                 concurrent_steps: bool = True, render_mode: str | None = None):
        if length < 1 or not 0.0 <= fail_rate <= 1.0:
            raise ValueError(f"need length >= 1 and 0 <= fail_rate <= 1, got {length} and {fail_rate}")
        super().__init__(split, max_steps or 3 * length, render_mode)
        self.length, self.step_cpu_s, self.step_sleep_s = length, step_cpu_s, step_sleep_s
        self.observation_chars, self.fail_rate = observation_chars, fail_rate
        self.hang_once_file, self.hang_s, self.kill_once_file = hang_once_file, hang_s, kill_once_file
        self.failure_log = failure_log
        self.concurrent_steps = concurrent_steps  # False: pool workers step these on one thread, as TextWorld
        self.fault_rng = np.random.default_rng()  # faults are infrastructure: independent of the task's seed
        self.room = 0
        self.episode_id = ""

    def task_ids(self) -> Sequence[str]:
        return [f"{self.split}-{i}" for i in range(NUM_TASKS[self.split])]

    def load_task(self, task_id: str) -> None:
        self.room = 0
        self.episode_id = uuid.uuid4().hex[:12] if self.failure_log else ""

    def first_observation(self) -> str:
        return self._describe()

    def apply(self, action: str) -> Outcome:
        self._costs_and_faults()
        if action.strip().lower() != door_word(self.task_id, self.room):
            return Outcome(f"That word does not open the door. {self._describe()}")
        self.room += 1
        if self.room == self.length:
            return Outcome("You leave the corridor.", reward=1.0, terminated=True, success=True)
        return Outcome(f"The door opens. {self._describe()}")

    def state_info(self) -> dict:
        word = door_word(self.task_id, self.room) if self.room < self.length else None
        others = [w for w in WORDS if w != word]
        pick = int(hashlib.sha256(f"{self.task_id}/{self.room}/x".encode()).hexdigest(), 16)
        admissible = sorted({word, others[pick % len(others)], others[(pick // 7) % len(others)]} - {None})
        task = f"Leave the corridor of {self.length} rooms." + (f" (episode {self.episode_id})" if self.episode_id else "")
        return {"task": task, "task_type": "corridor",
                "admissible_actions": admissible, "state_key": f"{self.task_id}/{self.room}",
                "expert_action": word, "expert_steps_left": self.length - self.room}

    def _describe(self) -> str:
        text = f"Room {self.room + 1} of {self.length}. The door ahead is marked {door_word(self.task_id, self.room)!r}."
        if len(text) < self.observation_chars:
            text += " " + "." * (self.observation_chars - len(text) - 1)
        return text

    def _costs_and_faults(self) -> None:
        if self.step_cpu_s > 0:
            start = time.thread_time()
            while time.thread_time() - start < self.step_cpu_s:
                pass
        if self.step_sleep_s > 0:
            time.sleep(self.step_sleep_s)
        if _claim(self.hang_once_file):
            self._log_failure()
            time.sleep(self.hang_s)
        if _claim(self.kill_once_file):
            self._log_failure()
            os.kill(os.getpid(), signal.SIGKILL)
        if self.fail_rate > 0 and self.fault_rng.random() < self.fail_rate:
            self._log_failure()
            raise RuntimeError(f"synthetic fault in room {self.room + 1} of task {self.task_id}")

    def _log_failure(self) -> None:
        if self.failure_log and self.episode_id:
            with Path(self.failure_log).open("a") as f:
                f.write(self.episode_id + "\n")
