"""An environment written with OpenEnv's own API, knowing nothing of agentgym, served by OpenEnv's server.

Count down to zero: the observation says the number, the agent says the next lower one. The action's
text field is ``word`` (not ``message``), the observation's is ``prompt``; there is no task API. Done
with reward 1 at zero; after 8 steps done with ``metadata["truncated"]`` (a time limit); the action
"boom" makes ``step`` raise (the server answers with an error and the session goes on).
"""

from __future__ import annotations

import sys

from openenv.core.env_server.http_server import create_fastapi_app
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import Action, Observation, State
from pydantic import Field

TIME_LIMIT = 8


class CountAction(Action):
    word: str = Field(..., description="the next number")


class CountObservation(Observation):
    prompt: str = ""


class Countdown(Environment[CountAction, CountObservation, State]):
    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self):
        super().__init__()
        self.number, self._state = 0, State()

    def reset(self, seed=None, episode_id=None, **kwargs) -> CountObservation:
        self.number = 2 + (seed or 0) % 3
        self._state = State(episode_id=episode_id, step_count=0)
        return CountObservation(prompt=f"Count down from {self.number}. Say the next number.")

    def step(self, action: CountAction, timeout_s=None, **kwargs) -> CountObservation:
        if action.word == "boom":
            raise ValueError("the countdown exploded")
        self._state.step_count += 1
        if action.word.strip() == str(self.number - 1):
            self.number -= 1
            if self.number == 0:
                return CountObservation(prompt="Zero! Well done.", done=True, reward=1.0, metadata={"success": True})
            text = f"Right. Now {self.number}. Say the next number."
        else:
            text = f"No. The number is {self.number}. Say the next number."
        if self._state.step_count >= TIME_LIMIT:
            return CountObservation(prompt=text, done=True, reward=0.0, metadata={"truncated": True})
        return CountObservation(prompt=text, reward=0.0)

    @property
    def state(self) -> State:
        return self._state


app = create_fastapi_app(Countdown, CountAction, CountObservation, max_concurrent_envs=16)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[sys.argv.index("--port") + 1]), log_level="warning")
