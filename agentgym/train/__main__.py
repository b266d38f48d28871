"""``python -m agentgym.train``: see ``agentgym.train.loop``."""

from agentgym.train.loop import main

main()
