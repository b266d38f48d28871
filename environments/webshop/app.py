"""The web shop as an ASGI application (FastAPI): HTML pages for people, a JSON API for agents."""

from __future__ import annotations

from html import escape

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from environments.webshop.api import api_routes
from environments.webshop.pages import page_routes
from environments.webshop.shop import BadRequest, Shop, UnknownSession


def create_app(shop: Shop) -> FastAPI:
    app = FastAPI(title="agentgym WebShop", docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json")
    app.state.shop = shop

    @app.get("/health")
    async def health() -> dict:
        return {"ok": True, "products": len(shop.data.products), "sessions": len(shop)}

    @app.exception_handler(UnknownSession)
    async def unknown_session(request: Request, exc: UnknownSession):
        return _error(request, 404, exc.args[0])

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest):
        return _error(request, 400, str(exc))

    app.include_router(api_routes(shop))
    app.include_router(page_routes(shop))
    return app


def _error(request: Request, status: int, message: str):
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": message}, status_code=status)
    body = f"<!doctype html><title>WebShop error</title><h1>{status}</h1><p id='error'>{escape(message)}</p>"
    return HTMLResponse(body, status_code=status)
