"""ALFWorld household tasks on alfworld's own text engine (generated games, or the official ones)."""

from agentgym.registry import register

register("agentgym/ALFWorld-v0", entry_point="environments.alfworld.env:ALFWorldEnv")
