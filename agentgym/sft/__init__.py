"""Supervised fine-tuning on expert episodes (``python -m agentgym.sft``): the examples use the very
prompts the RL rollout shows (``data``), the trainer fits response tokens only (``trainer``)."""
