"""``python -m agentgym.sft``: see ``agentgym.sft.trainer``."""

from agentgym.sft.trainer import main

main()
