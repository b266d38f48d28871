"""What a page shows, as one plain dict that both the HTML templates and the text renderer read.

Keeping a single page model means the browser and the text agent see the same buttons, results
and options, so the reward of the same clicks is the same in both.
"""

from __future__ import annotations

import random
from typing import Any

from environments.webshop.shop import BACK, BUY, NEXT, PREV, Session, Shop

REVIEW_LINES = [
    "Exactly as described. The {a} part really shows.",
    "Good value for the price; I would buy it again.",
    "Arrived quickly. {A} as promised, but the packaging was dented.",
    "My second one. Still happy with how {a} it is.",
    "Not bad, not great. Does the job.",
]


def reviews(product: dict[str, Any]) -> list[dict[str, Any]]:
    """A few short reviews, generated on demand from the ASIN (not stored in the catalogue)."""
    rng = random.Random(product["asin"])
    attrs = product["attributes"] or ["well made"]
    out = []
    for _ in range(rng.randint(2, 3)):
        attr = rng.choice(attrs)
        out.append({"stars": rng.randint(3, 5), "text": rng.choice(REVIEW_LINES).format(a=attr, A=attr.capitalize())})
    return out


def page_context(shop: Shop, session: Session) -> dict[str, Any]:
    loc = session.location
    ctx: dict[str, Any] = {
        "kind": loc.kind,
        "session_id": session.session_id,
        "instruction": session.goal["instruction_text"],
        "location": loc,
        "state_key": loc.key,
        "buttons": list(shop.clickables(session)),
        "back": BACK, "next": NEXT, "prev": PREV, "buy": BUY,
    }
    if loc.kind == "results":
        asins, pages = shop.page_results(loc)
        ctx.update(query=loc.query, page=loc.page, num_pages=pages, total=len(shop.results(loc.query)),
                   results=[shop.data.by_asin[a] for a in asins],
                   has_prev=loc.page > 1, has_next=loc.page < pages)
    if loc.kind in ("item", "sub", "done"):
        product = shop.data.by_asin[loc.asin]
        selected = dict(loc.options)
        ctx.update(product=product, selected=selected,
                   options=[{"name": n, "values": [{"value": v, "selected": selected.get(n) == v} for v in vals]}
                            for n, vals in product["options"].items()])
    if loc.kind == "sub":
        product = ctx["product"]
        ctx["sub"] = loc.sub
        ctx["sub_lines"] = {"description": [product["description"]], "features": product["features"],
                            "reviews": [f"{r['stars']}/5 stars: {r['text']}" for r in reviews(product)]}[loc.sub]
    if loc.kind == "done":
        ctx.update(reward=session.reward, reward_info=session.reward_info)
    return ctx
