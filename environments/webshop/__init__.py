"""WebShop: a real web shop (FastAPI + Jinja2, BM25 search) that agents use over HTTP or in-process."""

from agentgym.registry import register

register("agentgym/WebShop-v0", entry_point="environments.webshop.env:WebShopEnv")
