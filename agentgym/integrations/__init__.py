"""Adapters that hand agentgym environments to other training libraries (TRL); each imports only the core."""
