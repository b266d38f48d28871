"""IGPO's belief: the feature that scores the gold answer's probability after every turn and puts each turn's
gain in the ``info_gain`` column the ``igpo`` estimator reads (``agentgym.credit.igpo``)."""
