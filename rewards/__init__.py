"""Reward shapers and the progress estimator.

Shapers, ``(batch, **params) -> StepBatch`` with a new reward column, are declared as
``agentgym.shapers`` entry points in ``pyproject.toml`` and loaded by name on the first
``agentgym.credit.get_shaper(name)``; the trainer applies the configured ones, in order, before
credit assignment. Nothing is imported here, so a cheap shaper never pulls in torch.
"""
