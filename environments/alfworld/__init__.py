"""ALFWorld household tasks on alfworld's own text engine (generated games, or the official ones)."""
