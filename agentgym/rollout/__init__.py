"""The one episode path of training, evaluation and SFT data collection: per-step prompts, the
context guard, ``collect`` (batched multi-turn rollouts, the fault model), and the environment
pools that step the environments (``agentgym.rollout.pool``)."""
