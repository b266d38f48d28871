"""Toy-text environments: gymnasium's grid worlds told in words. Pure Python and fast."""
