"""agentgym: train LLM agents on multi-turn text environments with step-level credit assignment."""

from agentgym.checker import check_env
from agentgym.env import INFO_KEYS, Outcome, TextEnv
from agentgym.registry import SPLITS, list_envs, make, prompt_history_len, register, spec
from agentgym.spaces import FreeText
from agentgym.types import Step, StepBatch, Trajectory

__version__ = "0.1.0"
registry = list_envs

# Built-in ids are registered on import, so ``gymnasium.make("agentgym/...")`` works right after
# ``import agentgym`` (registration uses string entry points: no optional dependency is imported).
from agentgym.registry import _load_builtins  # noqa: E402

_load_builtins()

__all__ = ["INFO_KEYS", "SPLITS", "FreeText", "Outcome", "Step", "StepBatch", "TextEnv", "Trajectory",
           "check_env", "list_envs", "make", "prompt_history_len", "register", "registry", "spec"]
