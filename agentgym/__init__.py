"""agentgym: train LLM agents on multi-turn text environments with step-level credit assignment."""

from agentgym.checker import check_env
from agentgym.env import INFO_KEYS, SPLITS, Outcome, TextEnv
from agentgym.registry import list_envs, make, prompt_history_len, register, spec
from agentgym.spaces import FreeText
from agentgym.types import Step, StepBatch, Trajectory

__version__ = "0.1.0"
# Importing agentgym.registry registered every id of the ``agentgym.envs`` entry points (as
# ``module:Class`` strings, nothing imported), so ``gymnasium.make("agentgym/...")`` works from here on.

__all__ = ["INFO_KEYS", "SPLITS", "FreeText", "Outcome", "Step", "StepBatch", "TextEnv", "Trajectory",
           "check_env", "list_envs", "make", "prompt_history_len", "register", "spec"]
