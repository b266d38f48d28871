"""The oracle-credit feature: the expert's remaining plan length before and after every step (credit=oracle)."""
