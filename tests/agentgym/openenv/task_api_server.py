"""An environment written with OpenEnv 0.10's API only, with its task API the way another project would
write it: splits ``train`` and ``test`` (kinds train/test), task specs ``{"task_id", "word"}`` (harbor's
shape), ``list_tasks`` a bounded preview of 3 while ``num_tasks`` reports the true count, and a reset that
takes the task as ``task_index``. Each task: say its word; reward 1 and done when said.
"""

from __future__ import annotations

import sys

from openenv.core.env_server.http_server import create_fastapi_app
from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import Action, Observation, State
from pydantic import Field

SIZES = {"train": 40, "test": 1234}  # 1234 > one task_range page of the client


def spec(split: str, index: int) -> dict:
    return {"task_id": f"{split}-{index:04d}", "word": f"w{(index * 7919) % 10007}"}


class SayAction(Action):
    say: str = Field(..., description="the word")


class SayObservation(Observation):
    prompt: str = ""


class SayTheWord(Environment[SayAction, SayObservation, State]):
    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self):
        super().__init__()
        self.task, self._state = spec("train", 0), State()

    def reset(self, seed=None, episode_id=None, split: str = "train", task_index: int | None = None) -> SayObservation:
        index = task_index if task_index is not None else (seed or 0) % SIZES[split]
        self.task, self._state = spec(split, index), State(episode_id=episode_id, step_count=0)
        return SayObservation(prompt=f"Task {self.task['task_id']}: say {self.task['word']}",
                              metadata={"task_id": self.task["task_id"]})

    def step(self, action: SayAction, timeout_s=None, **kwargs) -> SayObservation:
        self._state.step_count += 1
        said = action.say.strip() == self.task["word"]
        return SayObservation(prompt="Right." if said else f"No. Say {self.task['word']}", done=said,
                              reward=1.0 if said else 0.0,
                              metadata={"task_id": self.task["task_id"], "success": said})

    @property
    def state(self) -> State:
        return self._state

    def list_splits(self):
        return [{"name": "train", "type": "train"}, {"name": "test", "type": "test"}]

    def list_tasks(self, split: str):
        return [spec(split, i) for i in range(3)]  # a preview: num_tasks has the true count

    def num_tasks(self, split: str) -> int:
        return SIZES[split]

    def get_task(self, split: str, index: int):
        if not 0 <= index < SIZES[split]:
            raise IndexError(index)
        return spec(split, index)

    def get_task_range(self, split: str, start=None, stop=None):
        return [spec(split, i) for i in range(SIZES[split])[slice(start, stop)]]


app = create_fastapi_app(SayTheWord, SayAction, SayObservation, max_concurrent_envs=32, env_name="say_the_word")

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[sys.argv.index("--port") + 1]), log_level="warning")
