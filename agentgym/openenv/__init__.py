"""OpenEnv interop (docs/openenv.md): serve any registered environment as an OpenEnv server, and read
OpenEnv servers back as text environments or as the ``remote`` env-pool backend.

Needs the ``openenv`` extra (``pip install -c constraints.txt -e ".[openenv]"``); nothing here is
imported by the rest of the core unless a run asks for it.
"""
