"""A complete agentgym environment in one file: guess a secret number from "higher"/"lower" hints.

docs/new_environment.md walks through it; tests/agentgym/test_new_environment_guide.py registers
it and runs it through ``agentgym.check_env`` so the guide cannot go stale.
"""

import re

import agentgym
from agentgym import Outcome, TextEnv

LIMITS = {"train": 100, "valid_seen": 100, "valid_unseen": 1000}  # valid_unseen: a wider range


class GuessNumber(TextEnv):
    """
    ## Description
    Find a secret integer between 1 and an upper limit; each guess is answered "higher" or "lower".
    ## Observation
    The last hint and the range still possible.
    ## Actions
    ``guess N``. Anything else is invalid and explained.
    ## Rewards
    1.0 for the right guess.
    ## Starting State
    The full range 1..limit.
    ## Episode End
    Terminated on the right guess; truncated after ``max_steps`` (default 12).
    ## Splits
    ``train``: even secrets 1..100; ``valid_seen``: odd secrets 1..100; ``valid_unseen``: secrets 1..1000.
    ## Arguments
    ``split``, ``max_steps``.
    ## Version History
    * v0: initial version.
    """

    default_max_steps = 12  # binary search needs at most 10 guesses on 1..1000
    has_admissible_actions = False

    def task_ids(self):
        limit = LIMITS[self.split]
        secrets = {"train": range(2, 101, 2), "valid_seen": range(1, 101, 2), "valid_unseen": range(101, 1001, 7)}
        return [f"{limit}-{s}" for s in secrets[self.split]]

    def load_task(self, task_id):
        limit, secret = task_id.split("-")
        self.secret, self.low, self.high = int(secret), 1, int(limit)

    def first_observation(self):
        return f"I am thinking of a number between {self.low} and {self.high}."

    def apply(self, action):
        match = re.fullmatch(r"guess\s+(-?\d{1,9})", action.strip().lower())
        if not match:
            return Outcome(f"Say 'guess N'. The number is between {self.low} and {self.high}.", action_valid=False)
        guess = int(match.group(1))
        if guess == self.secret:
            return Outcome(f"{guess} is right!", reward=1.0, terminated=True, success=True)
        if guess < self.secret:
            self.low = max(self.low, guess + 1)
        else:
            self.high = min(self.high, guess - 1)
        hint = "higher" if guess < self.secret else "lower"
        return Outcome(f"Go {hint}. The number is between {self.low} and {self.high}.")

    def state_info(self):
        middle = (self.low + self.high) // 2
        return {
            "task": "Guess the secret number.",
            "task_type": "guess",
            "admissible_actions": None,  # too many to list
            "state_key": f"between {self.low} and {self.high}",
            "expert_action": f"guess {middle}",
            "expert_steps_left": self._binary_search_steps(),
        }

    def _binary_search_steps(self):
        """Guesses binary search still needs for this secret (the oracle's plan length)."""
        low, high, steps = self.low, self.high, 0
        while True:
            steps += 1
            middle = (low + high) // 2
            if middle == self.secret:
                return steps
            low, high = (middle + 1, high) if middle < self.secret else (low, middle - 1)


agentgym.register("examples/GuessNumber-v0", entry_point=GuessNumber)
