"""Small helpers with no knowledge of RL: console output, plots, metric files, cache paths, option
parsing, text cutting, padding, and checks of user-given names and parameters."""
