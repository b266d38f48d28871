"""The shop's state: catalogue, search, goals and one ``Session`` per shopper.

Both front ends drive the same methods: the HTML pages call ``visit`` with the location a link
points to and ``buy`` from the Buy Now form; the text API calls ``act`` with ``search[...]`` /
``click[...]``. Sessions are closed explicitly and, as a safety net, evicted when idle for
``idle_ttl`` seconds or when more than ``max_sessions`` are open, so a long RL run cannot leak them.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from environments.webshop.location import MAX_QUERY_CHARS, SUB_PAGES, Location, normalise_query
from environments.webshop.reward import get_reward
from environments.webshop.search import SearchEngine

RESULTS_PER_PAGE = 10
ACTION_RE = re.compile(r"^\s*(search|click)\s*\[(.*)\]\s*$", re.IGNORECASE | re.DOTALL)
BACK, NEXT, PREV, BUY = "Back to Search", "Next >", "< Prev", "Buy Now"


class UnknownSession(KeyError):
    pass


class BadRequest(ValueError):
    pass


@dataclass
class ShopData:
    """Everything a shop serves: products, their search index and a goal for every task id."""

    products: list[dict[str, Any]]
    search: SearchEngine
    goal_for: Callable[[str], dict[str, Any]]
    task_counts: dict[str, int]
    by_asin: dict[str, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.by_asin = {p["asin"]: p for p in self.products}


@dataclass
class Session:
    session_id: str
    goal: dict[str, Any]
    location: Location = field(default_factory=Location)
    done: bool = False
    reward: float = 0.0
    reward_info: dict[str, Any] | None = None
    last_used: float = field(default_factory=time.monotonic)


class Shop:
    def __init__(self, data: ShopData, max_sessions: int = 10_000, idle_ttl: float = 3600.0):
        self.data = data
        self.max_sessions = int(max_sessions)
        self.idle_ttl = float(idle_ttl)
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    # ---- sessions -----------------------------------------------------------------------------
    def open(self, task_id: str) -> Session:
        try:
            goal = self.data.goal_for(str(task_id))
        except (ValueError, KeyError, IndexError) as exc:
            raise BadRequest(f"Unknown task {task_id!r}: {exc}") from None
        session = Session(secrets.token_hex(12), goal)
        with self._lock:
            self._evict(time.monotonic())
            self._sessions[session.session_id] = session
        return session

    def get(self, session_id: str) -> Session:
        with self._lock:
            session = self._sessions.get(str(session_id))
            if session is None:
                raise UnknownSession(f"Unknown session {str(session_id)[:64]!r}; it was closed, expired or never "
                                     "existed. Create one with POST /api/sessions.")
            self._sessions.move_to_end(session.session_id)
        session.last_used = time.monotonic()
        return session

    def close(self, session_id: str) -> bool:
        with self._lock:
            return self._sessions.pop(str(session_id), None) is not None

    def __len__(self) -> int:
        return len(self._sessions)

    def _evict(self, now: float) -> None:
        while self._sessions:
            oldest = next(iter(self._sessions.values()))
            if len(self._sessions) < self.max_sessions and now - oldest.last_used < self.idle_ttl:
                break
            self._sessions.popitem(last=False)

    # ---- pages --------------------------------------------------------------------------------
    def results(self, query: str) -> list[str]:
        return self.data.search.search(query)

    def page_results(self, location: Location) -> tuple[list[str], int]:
        """(ASINs on this results page, number of pages)."""
        found = self.results(location.query)
        pages = max(1, -(-len(found) // RESULTS_PER_PAGE))
        start = (location.page - 1) * RESULTS_PER_PAGE
        return found[start:start + RESULTS_PER_PAGE], pages

    def clickables(self, session: Session) -> dict[str, Location | str]:
        """Button label (display case) -> where it leads (a Location, or "buy")."""
        loc = session.location
        if session.done or loc.kind == "search":
            return {}
        out: dict[str, Location | str] = {BACK: Location()}
        if loc.kind == "results":
            asins, pages = self.page_results(loc)
            if loc.page > 1:
                out[PREV] = replace(loc, page=loc.page - 1)
            if loc.page < pages:
                out[NEXT] = replace(loc, page=loc.page + 1)
            for asin in asins:
                out[asin] = Location("item", loc.query, loc.page, asin)
        elif loc.kind == "item":
            out[PREV] = Location("results", loc.query, loc.page) if loc.query else Location()
            for name, values in self.data.by_asin[loc.asin]["options"].items():
                for value in values:
                    out.setdefault(value, loc.with_option(name, value))
            for sub in SUB_PAGES:
                out[sub.capitalize()] = replace(loc, kind="sub", sub=sub)
            out[BUY] = "buy"
        elif loc.kind == "sub":
            out[PREV] = replace(loc, kind="item", sub="")
        return out

    def visit(self, session: Session, location: Location) -> None:
        """Go to ``location`` (from a browser link); ``BadRequest`` if no such page exists."""
        self.validate(location)
        if session.done and location.kind != "done":
            raise BadRequest("This session has already bought an item; start a new session to shop again.")
        if location.kind == "done" and not session.done:
            raise BadRequest("Nothing has been bought in this session yet.")
        if not session.done:
            session.location = location

    def validate(self, loc: Location) -> None:
        if len(loc.query) > MAX_QUERY_CHARS:
            raise BadRequest(f"The search query is longer than {MAX_QUERY_CHARS} characters.")
        if loc.kind == "results":
            if not loc.query:
                raise BadRequest("A search needs a non-empty query (?q=...).")
            _, pages = self.page_results(loc)
            if not 1 <= loc.page <= pages:
                raise BadRequest(f"Page {loc.page} does not exist; this search has {pages} page(s).")
        if loc.kind in ("item", "sub"):
            product = self.data.by_asin.get(loc.asin)
            if product is None:
                raise BadRequest(f"No product with ASIN {loc.asin[:40]!r}.")
            for name, value in loc.options:
                if value not in product["options"].get(name, ()):
                    raise BadRequest(f"{loc.asin} has no option {name}={value!r}.")
            if loc.page < 1:
                raise BadRequest("page must be >= 1.")
        if loc.kind == "sub" and loc.sub not in SUB_PAGES:
            raise BadRequest(f"Unknown item view {loc.sub!r}; choose one of {SUB_PAGES}.")

    def buy(self, session: Session, asin: str, options: tuple[tuple[str, str], ...]) -> float:
        if session.done:
            raise BadRequest("This session has already bought an item.")
        self.validate(Location("item", asin=asin, options=options))
        product = self.data.by_asin[asin]
        reward, info = get_reward(product, session.goal, product["price"], dict(options), verbose=True)
        session.reward, session.reward_info, session.done = float(reward), info, True
        session.location = Location("done", asin=asin, options=options)
        return session.reward

    # ---- text actions -------------------------------------------------------------------------
    def act(self, session: Session, action: str) -> tuple[bool, str]:
        """Apply ``search[...]``/``click[...]``; returns (valid, message). Never raises on bad text."""
        if session.done:
            return False, "You have already bought an item; the episode is over."
        match = ACTION_RE.match(action)
        if not match:
            return False, (f"Unknown action {action[:80]!r}. Use search[your query] on the search page or "
                           "click[button] with a button shown on the page.")
        verb, argument = match.group(1).lower(), " ".join(match.group(2).split())
        if verb == "search":
            return self._search_action(session, argument)
        return self._click_action(session, argument)

    def _search_action(self, session: Session, query: str) -> tuple[bool, str]:
        if session.location.kind != "search":
            return False, f"There is no search box on this page; click[{BACK}] first."
        if not query:
            return False, "The search query is empty; write search[your query]."
        if len(query) > MAX_QUERY_CHARS:
            return False, f"The search query is longer than {MAX_QUERY_CHARS} characters."
        session.location = Location("results", normalise_query(query), 1)
        return True, ""

    def _click_action(self, session: Session, label: str) -> tuple[bool, str]:
        options = self.clickables(session)
        by_lower = {k.lower(): v for k, v in options.items()}
        target = by_lower.get(label.lower())
        if target is None:
            shown = ", ".join(options) if options else "none (use search[...])"
            return False, f"{label[:80]!r} is not a button on this page. Buttons: {shown}."
        if target == "buy":
            loc = session.location
            self.buy(session, loc.asin, loc.options)
            return True, ""
        session.location = target
        return True, ""
