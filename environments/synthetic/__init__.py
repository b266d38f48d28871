"""A synthetic environment with a controllable cost per step and injectable faults (rollout tests, benchmarks)."""
