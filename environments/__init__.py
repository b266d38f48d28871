"""Built-in environments, registered under ``agentgym/``.

Each id is declared in ``pyproject.toml`` under ``[project.entry-points."agentgym.envs"]`` as
``"agentgym/Name-v0" = "environments.family.module:Class"``; ``import agentgym`` registers those
strings with gymnasium, so a family's module (and its optional dependencies: textworld, alfworld,
...) is imported only when one of its environments is made.
"""
