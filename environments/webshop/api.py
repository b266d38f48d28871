"""The JSON API the text environment uses: open a session, read its page, act, close it.

Every answer carries the text observation, admissible actions, state key, the expert's next action
and the reward, so one request per environment step is enough.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from environments.webshop.expert import Plan, next_action, plan
from environments.webshop.shop import Session, Shop
from environments.webshop.text import admissible_actions, render_text
from environments.webshop.view import page_context

MAX_ACTION_CHARS = 4096


class OpenRequest(BaseModel):
    task_id: str


class StepRequest(BaseModel):
    action: str


def plan_cache(shop: Shop, size: int = 8192) -> Callable[[dict[str, Any]], Plan | None]:
    """The expert's plan per task (search once per task, not once per step)."""
    cache: OrderedDict[str, Plan | None] = OrderedDict()
    lock = threading.Lock()  # in-process mode serves environments of several threads

    def get(goal: dict[str, Any]) -> Plan | None:
        key = str(goal.get("task_id") or goal["instruction_text"])
        with lock:
            if key in cache:
                return cache[key]
        found = plan(shop, goal)
        with lock:
            cache[key] = found
            if len(cache) > size:
                cache.popitem(last=False)
        return found

    return get


def session_view(shop: Shop, session: Session, plans: Callable[[dict[str, Any]], Plan | None]) -> dict[str, Any]:
    ctx = page_context(shop, session)
    expert_action, steps_left = next_action(shop, session, plans(session.goal))
    goal = session.goal
    return {
        "session_id": session.session_id,
        "task_id": goal.get("task_id"),
        "task": goal["instruction_text"],
        "task_type": goal.get("category") or None,
        "observation": render_text(ctx),
        "admissible_actions": admissible_actions(ctx),
        "state_key": session.location.key,
        "url": session.location.url(session.session_id),
        "expert_action": expert_action,
        "expert_steps_left": steps_left,
        "done": session.done,
        "reward": session.reward,
        "success": bool(session.done and session.reward >= 1.0 - 1e-9),
        "reward_info": session.reward_info,
    }


def api_routes(shop: Shop) -> APIRouter:
    router = APIRouter(prefix="/api")
    plans = plan_cache(shop)

    @router.get("/tasks")
    async def tasks() -> dict[str, int]:
        return dict(shop.data.task_counts)

    # Handlers return JSONResponse themselves: FastAPI's response-model pass costs more than the step.
    @router.post("/sessions", status_code=201)
    async def open_session(request: OpenRequest) -> JSONResponse:
        return JSONResponse(session_view(shop, shop.open(request.task_id), plans), status_code=201)

    @router.get("/sessions/{session_id}")
    async def read_session(session_id: str) -> JSONResponse:
        return JSONResponse(session_view(shop, shop.get(session_id), plans))

    @router.post("/sessions/{session_id}/step")
    async def step(session_id: str, request: StepRequest) -> JSONResponse:
        session = shop.get(session_id)
        if len(request.action) > MAX_ACTION_CHARS:
            return JSONResponse({"detail": f"The action is {len(request.action)} characters long; the limit is "
                                           f"{MAX_ACTION_CHARS}. Nothing happened."}, status_code=413)
        valid, message = shop.act(session, request.action)
        return JSONResponse({**session_view(shop, session, plans), "action_valid": valid, "message": message})

    @router.delete("/sessions/{session_id}", status_code=204)
    async def close_session(session_id: str) -> Response:
        shop.get(session_id)
        shop.close(session_id)
        return Response(status_code=204)

    return router
