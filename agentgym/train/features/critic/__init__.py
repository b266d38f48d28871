"""PPO's value model: the critic network (``value_model``) and the feature that trains it (``feature``)."""
