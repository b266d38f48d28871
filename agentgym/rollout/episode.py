"""What one episode is, the same for training, evaluation and SFT: the environment, the prompt each
step shows, and how responses are sampled (``EpisodeSettings``).

Training (``TrainConfig``), evaluation (``EvalSettings``) and SFT (``SFTConfig``) are built on this one
class, so a default is settled once: a policy is evaluated, and warm-started, on exactly the prompts
and response budget it trains with. The one default that differs on purpose, the temperature, is
``None`` here and each command says what it means (sampling at 1.0 in training rollouts, greedy
decoding in evaluation and for SFT teachers).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from agentgym.core.policy import SamplingParams
from agentgym.rollout.prompts import PromptFormat, prompt_format


@dataclass(kw_only=True)
class EpisodeSettings:
    """episodes: the environment, each step's prompt and response (shared by train, eval and sft)"""

    env: str = "agentgym/FrozenLake-v1"
    """Environment id (``python -m agentgym.envs`` lists them; ``module:namespace/Name-vN`` imports module)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for the environment's constructor, e.g. '{num_tasks: 200}'."""
    max_steps: int | None = None
    """Step limit of an episode; None = the environment's own."""
    history_len: int | None = None
    """Past (action, observation) pairs in each prompt; None = the environment's prompt_history_len."""
    show_admissible: bool = True
    """List the admissible actions in each prompt (where the environment gives them)."""
    prompt_style: str = "compact"
    """compact (a one-line system prompt, for models trained from scratch) | instruct (for pretrained instruct
    models: the environment's introduction, steps taken, <think> then <action>, generation stopped at </action>;
    give it a larger max_new_tokens)."""
    max_prompt_tokens: int | None = None
    """Longest prompt; longer ones are shortened by the context guard. None = model context - max_new_tokens."""
    temperature: float | None = None
    """Sampling temperature; None = the command's own: 1.0 for training rollouts, 0 (greedy) for evaluation and a
    model teacher in SFT."""
    top_p: float = 1.0
    """Nucleus sampling threshold (1 = off)."""
    max_new_tokens: int = 24
    """Longest response per step, in tokens (the same for training, held-out checks and evaluation)."""

    def check_episode_settings(self) -> None:
        """Refuse values that would run but mean nothing (``max_steps -5`` once cut every episode after one step)."""
        for name in ("max_steps", "max_new_tokens", "max_prompt_tokens"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if self.history_len is not None and self.history_len < 0:
            raise ValueError(f"history_len must be >= 0, got {self.history_len}")
        if self.temperature is not None and not self.temperature >= 0:
            raise ValueError(f"temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        PromptFormat(self.prompt_style)  # refuses a style it does not know

    def prompt_format(self, env_id: str | None = None) -> PromptFormat:
        """How this episode's prompts are written (``env_id``: the environment actually played, default ``env``)."""
        return prompt_format(env_id or self.env, self.prompt_style)

    def sampling(self, seed: int | None = None, unset_temperature: float | None = None) -> SamplingParams:
        """The sampling of one ``generate`` call (``temperature`` 0 = greedy); a ``None`` temperature takes
        ``unset_temperature`` (the caller's own meaning of it), and with neither it is an error."""
        temperature = self.temperature if self.temperature is not None else unset_temperature
        if temperature is None:
            raise ValueError("temperature is None: the command resolves it before sampling")
        return SamplingParams(temperature=temperature, top_p=self.top_p, max_new_tokens=self.max_new_tokens,
                              seed=seed, greedy=temperature <= 0, stop=PromptFormat(self.prompt_style).stop)

    def episode_fields(self) -> dict[str, Any]:
        """This object's episode settings alone (to build another command's settings from a run's)."""
        return {f.name: getattr(self, f.name) for f in fields(EpisodeSettings)}

    def env_kwargs_with_limit(self) -> dict[str, Any]:
        """The constructor's keyword arguments with the step limit, as the pools build environments."""
        kwargs = dict(self.env_kwargs)
        if self.max_steps is not None:
            kwargs["max_steps"] = self.max_steps
        return kwargs
