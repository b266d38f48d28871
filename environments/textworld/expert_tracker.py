"""textworld's planner on demand: the winning policy of a state, computed only when something reads it.

Asked for ``policy_commands``, textworld tracks every quest on every step (updating and compressing
each quest's action tree, then merging the trees into a winning policy) whether or not the policy is
read; that is most of a step's cost in a training-like random walk. Without it the game tracks its
state but no quests. ``ExpertTracker`` records the actions the game applies in an episode and, when
the plan after the first n of them is asked for, replays them on a quest-tracking
``GameProgression`` of its own: the same updates in the same order, so the same policy textworld
would have reported at that step. Plans are kept per n; reads in order cost one update per action.
"""

from __future__ import annotations

from typing import Any

from environments.textworld.lock import TEXTWORLD_LOCK


def state_tracking(game: Any) -> Any | None:
    """textworld's ``StateTracking`` wrapper in the game's wrapper chain (None for games without it)."""
    from textworld.envs.wrappers.tw_inform7 import StateTracking

    env = game
    while env is not None:
        if isinstance(env, StateTracking):
            return env
        env = getattr(env, "_wrapped_env", None)
    return None


class ExpertTracker:
    """One episode's actions, and the planner's remaining commands after any prefix of them."""

    def __init__(self, tracking: Any):
        from textworld.generator.game import GameProgression

        self._new_progression = lambda: GameProgression(tracking._game, track_quests=True)
        self._inform7 = tracking._inform7
        self.actions: list[Any] = []
        progression = tracking._game_progression  # the game's own, quest-free progression
        apply = progression.update

        def recording_update(action: Any) -> None:
            self.actions.append(action)
            apply(action)

        progression.update = recording_update  # this episode's progression object only
        self._shadow: Any = None
        self._applied = 0
        self._plans: dict[int, list[str]] = {}

    @classmethod
    def attach(cls, game: Any) -> ExpertTracker | None:
        """Call right after ``game.reset()``: tracks the episode that reset started."""
        tracking = state_tracking(game)
        if tracking is None or tracking._game_progression is None:
            return None
        return cls(tracking)

    def plan_after(self, n_actions: int) -> list[str]:
        """The winning policy's commands once the first ``n_actions`` actions were applied ([] if none)."""
        with TEXTWORLD_LOCK:
            if n_actions not in self._plans:
                if self._shadow is None or self._applied > n_actions:  # an earlier state: replay from the start
                    self._shadow, self._applied = self._new_progression(), 0
                for action in self.actions[self._applied:n_actions]:
                    self._shadow.update(action)
                self._applied = n_actions
                policy = self._shadow.winning_policy
                self._plans[n_actions] = self._inform7.gen_commands_from_actions(policy) if policy is not None else []
            return self._plans[n_actions]
