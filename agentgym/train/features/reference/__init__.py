"""The frozen reference model of the KL penalty (built when ``kl_coef > 0``)."""
