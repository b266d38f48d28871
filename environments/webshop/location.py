"""Where a shopper is: one page of the shop, addressable by URL.

A ``Location`` is the whole state of a page (search box, a results page of a query, an item with
its selected options, an item's description/features/reviews view, the confirmation after
buying). Its ``key`` is the canonical URL path and query string without the session id, which
is exactly the environment's ``state_key``: equal pages give equal keys in every rollout.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import quote, urlencode

KINDS = ("search", "results", "item", "sub", "done")
SUB_PAGES = ("description", "features", "reviews")
MAX_QUERY_CHARS = 500


def normalise_query(query: str) -> str:
    return " ".join(str(query).lower().split())


@dataclass(frozen=True)
class Location:
    kind: str = "search"
    query: str = ""
    page: int = 1
    asin: str = ""
    sub: str = ""
    options: tuple[tuple[str, str], ...] = field(default=())

    def with_option(self, name: str, value: str) -> Location:
        chosen = dict(self.options)
        chosen[name] = value
        return replace(self, options=tuple(sorted(chosen.items())))

    def params(self) -> list[tuple[str, str]]:
        """Query-string parameters: ``q`` and ``page`` for where "< Prev" leads, ``o`` per option."""
        out: list[tuple[str, str]] = []
        if self.kind in ("results", "item", "sub") and self.query:
            out += [("q", self.query), ("page", str(self.page))]
        out += [("o", f"{name}={value}") for name, value in self.options]
        return out

    def path(self) -> str:
        asin = quote(self.asin, safe="")
        return {
            "search": "",
            "results": "search",
            "item": f"item/{asin}",
            "sub": f"item/{asin}/{self.sub}",
            "done": "done",
        }[self.kind]

    def url(self, session_id: str) -> str:
        query = urlencode(self.params())
        return f"/{quote(session_id, safe='')}/{self.path()}" + (f"?{query}" if query else "")

    @property
    def key(self) -> str:
        query = urlencode(self.params())
        base = self.path() or "index"
        if self.kind == "done":
            base = f"done/{self.asin}"
        return base + (f"?{query}" if query else "")


def parse_options(raw: list[str]) -> tuple[tuple[str, str], ...]:
    """``["color=navy", "size=large"]`` -> sorted pairs; raises ``ValueError`` on malformed items."""
    chosen: dict[str, str] = {}
    for item in raw:
        name, sep, value = str(item).partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"Malformed option {item!r}; expected 'name=value', e.g. 'color=navy'.")
        chosen[name.strip().lower()] = value.strip().lower()
    return tuple(sorted(chosen.items()))
