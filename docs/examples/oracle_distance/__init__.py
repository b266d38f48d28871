"""A trainer feature in a package of its own: docs/architecture.md, "Trainer features" (tests run it)."""
