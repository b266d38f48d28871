"""The one rollout-and-update loop (``python -m agentgym.train``), read in this order:

``config`` (every setting) -> ``setup`` (build a run) -> ``loop`` (one iteration: batch, shape,
credit, update, sync, evaluate, log, checkpoint) -> ``batches`` (where each batch comes from) ->
``update`` and ``losses`` (the clipped policy-gradient step) -> ``trainer`` and ``checkpoint``
(the run's state, saved atomically) -> ``held_out_checks``. Optional parts of the trainer, one
folder each, are in ``features``; torchrun data parallelism in ``distributed`` and ``data_parallel``.
"""
