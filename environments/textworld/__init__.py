"""TextWorld environments: textworld's procedurally generated games and any game files you bring."""
