"""Policies behind one protocol (``agentgym.policy.Policy``): transformers, vLLM, OpenAI-compatible, scripted."""
