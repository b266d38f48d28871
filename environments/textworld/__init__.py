"""TextWorld environments: textworld's procedurally generated games and any game files you bring.

Registration uses string entry points, so importing this package does not import textworld.
"""

from agentgym.registry import register

_MODULE = "environments.textworld"

register("agentgym/TextWorld-v0", entry_point=f"{_MODULE}.game_files:TextWorldGameFiles")
register("agentgym/TextWorld-Simple-v0", entry_point=f"{_MODULE}.families:SimpleTextWorld")
register("agentgym/TextWorld-Cooking-v0", entry_point=f"{_MODULE}.families:CookingTextWorld")
register("agentgym/TextWorld-CoinCollector-v0", entry_point=f"{_MODULE}.families:CoinCollectorTextWorld")
register("agentgym/TextWorld-TreasureHunter-v0", entry_point=f"{_MODULE}.families:TreasureHunterTextWorld")
register("agentgym/TextWorld-Custom-v0", entry_point=f"{_MODULE}.custom:CustomTextWorld")
