"""Toy-text environments: gymnasium's grid worlds told in words. Pure Python and fast."""

from agentgym.registry import register

register("agentgym/FrozenLake-v0", entry_point="environments.toytext.frozenlake:FrozenLakeText")
