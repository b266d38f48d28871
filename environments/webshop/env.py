"""WebShop as a text environment: shop in a real web app by searching and clicking."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from agentgym.core.env import Outcome, TextEnv
from environments.webshop.client import (
    AsgiClient,
    HttpClient,
    ShopError,
    acquire_server,
    release_server,
    shared_app,
)
from environments.webshop.data import DEFAULT_NUM_PRODUCTS, ShopConfig
from environments.webshop.goals import task_ids as generated_task_ids

MODES = ("asgi", "http")


class WebShopEnv(TextEnv):
    """
    ## Description
    WebShop (Yao et al. 2022) on a shop that installs with pip: a FastAPI web application with a
    search page, paginated BM25 search results, item pages with options (colour, size, flavour, ...),
    description/features/reviews views and a Buy Now button, over a generated catalogue of 20,000
    products in ten categories (or WebShop's own files via ``data_dir``). The agent gets a shopping
    instruction ("i want a machine washable men's polo shirt, in navy, size large, and price lower
    than 40.00 dollars") and must find and buy a matching product.

    ## Observation
    WebShop's text mode: the instruction, then the page with ``[Search]`` for the search box,
    ``[button] label [button_]`` for clickable things and ``[clicked button] label [clicked button_]``
    for selected options. An invalid action's explanation is prepended to the unchanged page.

    ## Actions
    ``search[query]`` on the search page; ``click[label]`` for any button shown (``Back to Search``,
    ``Next >``, ``< Prev``, an ASIN, an option value, ``Description``, ``Features``, ``Reviews``,
    ``Buy Now``); case-insensitive. ``info["admissible_actions"]`` lists them (on the search page
    the template ``search[<your query>]``).

    ## Rewards
    On buying: WebShop's score in [0, 1] (attribute, option, price and product-type match; see
    ``environments.webshop.reward``), also in ``info["score"]``; 0 on every other step.
    ``success`` means score 1.

    ## Starting State
    The search page of the task's instruction, in a new server session.

    ## Episode End
    Terminated when an item is bought; truncated after ``max_steps`` (default 15, as GiGPO).

    ## Splits
    ``train`` (6,000 instructions) and ``valid_seen`` (500) target disjoint products of eight
    categories; ``valid_unseen`` (500) targets the held-out categories garden and pet supplies.

    ## Arguments
    ``split``, ``max_steps``; ``mode`` ("asgi": the app runs in this process, the default and
    fastest; "http": a server process on a free loopback port, started on first use and stopped by
    ``close``); ``url`` (attach to a running server); ``num_products`` (20,000) and
    ``catalog_seed`` (0) of the generated catalogue; ``data_dir`` (WebShop's original files);
    ``num_tasks`` (limit the split's task count).

    ## Version History
    * v0: initial version.
    """

    prompt_intro = (
        "You shop in an online store: you search for products, open their pages, pick their options and buy "
        "the one product that best matches the instruction."
    )
    default_max_steps = 15

    def __init__(self, split: str = "train", max_steps: int | None = None, render_mode: str | None = None,
                 mode: str = "asgi", url: str | None = None, num_products: int = DEFAULT_NUM_PRODUCTS,
                 catalog_seed: int = 0, data_dir: str | None = None, num_tasks: int | None = None):
        super().__init__(split=split, max_steps=max_steps, render_mode=render_mode)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.config = ShopConfig(int(catalog_seed), int(num_products), str(data_dir) if data_dir else None)
        self.mode = "http" if url else mode
        self.url = url
        self._num_tasks = num_tasks
        self._ids: list[str] | None = None
        self._client: AsgiClient | HttpClient | None = None
        self._owns_server = False
        self._session_id: str | None = None
        self._view: dict[str, Any] = {}

    # ---- connection ---------------------------------------------------------------------------
    def _connect(self) -> AsgiClient | HttpClient:
        if self._client is None:
            if self.mode == "asgi":
                self._client = AsgiClient(shared_app(self.config))
            else:
                url = self.url
                if url is None:
                    url = acquire_server(self.config)
                    self._owns_server = True
                self._client = HttpClient(url)
        return self._client

    def _call(self, method: str, path: str, json: Any = None) -> tuple[int, dict[str, Any]]:
        response = self._connect().call(method, path, json=json)
        try:
            payload = response.json() if response.content else {}
        except ValueError:
            payload = {"detail": response.text[:500]}
        return response.status_code, payload if isinstance(payload, dict) else {"detail": str(payload)}

    # ---- TextEnv ------------------------------------------------------------------------------
    def task_ids(self) -> Sequence[str]:
        if self._ids is None:
            count = self._num_tasks
            if self.url or self.config.data_dir:
                status, counts = self._call("GET", "/api/tasks")
                available = int(counts.get(self.split, 0)) if status == 200 else 0
                count = available if count is None else min(int(count), available)
            self._ids = generated_task_ids(self.split, count)
        return self._ids

    def load_task(self, task_id: str) -> None:
        self._close_session()
        status, view = self._call("POST", "/api/sessions", {"task_id": task_id})
        if status != 201:
            raise ShopError(f"The shop could not open task {task_id!r} (HTTP {status}): {view.get('detail')}")
        self._session_id, self._view = view["session_id"], view

    def first_observation(self) -> str:
        return self._view["observation"]

    def apply(self, action: str) -> Outcome:
        page = self._view.get("observation", "")
        try:
            status, view = self._call("POST", f"/api/sessions/{self._session_id}/step", {"action": action})
        except httpx.TransportError as exc:
            return Outcome(f"The shop could not be reached ({exc!r}). Nothing happened.\n\n{page}", action_valid=False)
        if status != 200:
            return Outcome(f"The shop refused the action (HTTP {status}): {view.get('detail')}\n\n{page}",
                           action_valid=False)
        self._view = view
        observation = view["observation"] if view["action_valid"] else f"{view['message']}\n\n{view['observation']}"
        if view["done"]:
            return Outcome(observation, reward=float(view["reward"]), terminated=True, success=bool(view["success"]),
                           score=float(view["reward"]))
        return Outcome(observation, action_valid=bool(view["action_valid"]))

    def state_info(self) -> dict[str, Any]:
        keys = ("task", "task_type", "admissible_actions", "state_key", "expert_action", "expert_steps_left")
        return {k: self._view.get(k) for k in keys}

    # ---- lifecycle ----------------------------------------------------------------------------
    @property
    def session_id(self) -> str | None:
        return self._session_id

    def _close_session(self) -> None:
        if self._session_id is not None and self._client is not None:
            try:
                self._client.call("DELETE", f"/api/sessions/{self._session_id}")
            except httpx.TransportError:
                pass
        self._session_id = None

    def close(self) -> None:
        """Close the session, the connection and (if this env started it) the server process."""
        self._close_session()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._owns_server:
            release_server(self.config)
            self._owns_server = False
        super().close()
