"""agentgym: train LLM agents on multi-turn text environments with step-level credit assignment."""

from agentgym.core.checker import check_env
from agentgym.core.env import INFO_KEYS, SPLITS, Outcome, TextEnv
from agentgym.core.registry import list_envs, make, prompt_history_len, register, spec
from agentgym.core.spaces import FreeText
from agentgym.core.types import Step, StepBatch, Trajectory

__version__ = "0.1.0"
# Importing agentgym.core.registry registered every id of the ``agentgym.envs`` entry points (as
# ``module:Class`` strings, nothing imported), so ``gymnasium.make("agentgym/...")`` works from here on.

__all__ = ["INFO_KEYS", "SPLITS", "FreeText", "Outcome", "Step", "StepBatch", "TextEnv", "Trajectory",
           "check_env", "list_envs", "make", "prompt_history_len", "register", "spec"]
