"""The HTML shop a person (or Playwright) clicks through; every page is a plain GET URL.

Links are computed from the same ``Shop.clickables`` the text agent sees, so a browser click and a
``click[...]`` action lead to the same page. Buying is a POST form (it changes state).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from environments.webshop.location import Location, normalise_query, parse_options
from environments.webshop.shop import BadRequest, Session, Shop
from environments.webshop.view import page_context

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
MAX_FORM_BYTES = 16_384
PageNumber = Annotated[int, Query(ge=1, le=1000)]
OptionList = Annotated[list[str] | None, Query()]


def _options(raw: list[str]) -> tuple[tuple[str, str], ...]:
    try:
        return parse_options(raw)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def render(request: Request, shop: Shop, session: Session) -> HTMLResponse:
    ctx = page_context(shop, session)
    ctx["links"] = {label: (target.url(session.session_id) if isinstance(target, Location) else None)
                    for label, target in shop.clickables(session).items()}
    ctx["home"] = f"/{session.session_id}/"
    return TEMPLATES.TemplateResponse(request, f"{session.location.kind}.html", ctx)


def page_routes(shop: Shop) -> APIRouter:
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse)
    async def new_session(task_id: str | None = None) -> RedirectResponse:
        """A fresh session: the given task, or a random training task."""
        if task_id is None:
            task_id = f"train-{random.randrange(max(1, shop.data.task_counts.get('train', 1)))}"
        session = shop.open(task_id)
        return RedirectResponse(f"/{session.session_id}/", status_code=303)

    @router.get("/{session_id}/", response_class=HTMLResponse)
    async def index(request: Request, session_id: str) -> HTMLResponse:
        return _visit(request, session_id, Location())

    @router.get("/{session_id}/search", response_class=HTMLResponse)
    async def results(request: Request, session_id: str, q: str = "", page: PageNumber = 1):
        return _visit(request, session_id, Location("results", normalise_query(q), page))

    @router.get("/{session_id}/item/{asin}", response_class=HTMLResponse)
    async def item(request: Request, session_id: str, asin: str, q: str = "",
                   page: PageNumber = 1, o: OptionList = None):
        return _visit(request, session_id, Location("item", normalise_query(q), page, asin, "", _options(o or [])))

    @router.get("/{session_id}/item/{asin}/{sub}", response_class=HTMLResponse)
    async def item_view(request: Request, session_id: str, asin: str, sub: str, q: str = "",
                        page: PageNumber = 1, o: OptionList = None):
        return _visit(request, session_id, Location("sub", normalise_query(q), page, asin, sub, _options(o or [])))

    @router.post("/{session_id}/buy/{asin}")
    async def buy(request: Request, session_id: str, asin: str) -> RedirectResponse:
        session = shop.get(session_id)
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise BadRequest("The form is too large.")
        form = parse_qs(body.decode("utf-8", errors="replace"))
        shop.buy(session, asin, _options(form.get("o", [])))
        return RedirectResponse(f"/{session_id}/done", status_code=303)

    @router.get("/{session_id}/done", response_class=HTMLResponse)
    async def done(request: Request, session_id: str) -> HTMLResponse:
        session = shop.get(session_id)
        if not session.done:
            raise BadRequest("Nothing has been bought in this session yet.")
        return render(request, shop, session)

    def _visit(request: Request, session_id: str, location: Location) -> HTMLResponse:
        session = shop.get(session_id)
        shop.visit(session, location)
        return render(request, shop, session)

    return router
