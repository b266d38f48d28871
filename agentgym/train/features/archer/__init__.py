"""ArCHer: the utterance-level critic (``utterance_critic``), its replay buffer (``replay_buffer``) and the
feature that trains it inside the loop (``feature``); the estimator that reads its column is
``agentgym.credit.archer``."""
