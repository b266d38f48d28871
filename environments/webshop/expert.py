"""The oracle shopper: search with the goal's attributes, pick the target, choose options, buy.

``plan`` searches with the goal's attributes and product type (falling back to the target's
title) and picks the target if it is listed, else the first listed product that scores 1.0 with
the right options. ``next_action`` then walks there from any page, so ``expert_action`` and
``expert_steps_left`` are defined wherever an agent has wandered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from environments.webshop.fuzzy import normalize_color, token_set_ratio
from environments.webshop.location import normalise_query
from environments.webshop.reward import MATCH_THRESHOLD, get_reward, goal_option_values
from environments.webshop.shop import BACK, BUY, NEXT, PREV, RESULTS_PER_PAGE, Session, Shop


@dataclass(frozen=True)
class Plan:
    query: str
    page: int
    asin: str
    options: tuple[tuple[str, str], ...]


def expert_query(goal: dict[str, Any]) -> str:
    return normalise_query(" ".join([*goal["attributes"], goal["query"] or goal["name"]]))


def choose_options(product: dict[str, Any], goal: dict[str, Any]) -> tuple[tuple[str, str], ...] | None:
    """One product option per wanted value (exact, else best fuzzy match); None if one is missing."""
    chosen: dict[str, str] = {}
    for wanted in goal_option_values(goal):
        best, best_score = None, MATCH_THRESHOLD
        for name, values in product["options"].items():
            for value in values:
                score = 101 if value == wanted else token_set_ratio(normalize_color(value), normalize_color(wanted))
                if score > best_score and name not in chosen:
                    best, best_score = (name, value), score
        if best is None:
            return None
        chosen[best[0]] = best[1]
    return tuple(sorted(chosen.items()))


def satisfies(product: dict[str, Any], goal: dict[str, Any]) -> tuple[tuple[str, str], ...] | None:
    """The options that make buying ``product`` score 1.0 for ``goal``, or None."""
    if product["price"] > goal["price_upper"]:
        return None
    options = choose_options(product, goal)
    if options is None or get_reward(product, goal, product["price"], dict(options)) < 1.0:
        return None
    return options


def plan(shop: Shop, goal: dict[str, Any]) -> Plan | None:
    for query in (expert_query(goal), normalise_query(goal["name"])):
        found = shop.results(query)
        ranked = ([goal["asin"]] if goal["asin"] in found else []) + [a for a in found if a != goal["asin"]]
        for asin in ranked:
            options = satisfies(shop.data.by_asin[asin], goal)
            if options is not None:
                return Plan(query, found.index(asin) // RESULTS_PER_PAGE + 1, asin, options)
    return None


def next_action(shop: Shop, session: Session, target: Plan | None) -> tuple[str | None, int | None]:
    """(expert action, steps it needs to finish) from the session's current page."""
    if target is None or session.done:
        return None, None
    loc = session.location
    finish = len(target.options) + 1  # choose every option, then buy
    from_search = 1 + (target.page - 1) + 1 + finish
    if loc.kind in ("item", "sub") and loc.asin == target.asin:
        missing = [value for name, value in target.options if dict(loc.options).get(name) != value]
        if loc.kind == "sub":
            return f"click[{PREV}]", 1 + len(missing) + 1
        return (f"click[{missing[0]}]" if missing else f"click[{BUY}]"), len(missing) + 1
    if loc.kind == "results":
        asins, _ = shop.page_results(loc)
        if target.asin in asins:
            return f"click[{target.asin}]", 1 + finish
        if loc.query == target.query and loc.page < target.page:
            return f"click[{NEXT}]", (target.page - loc.page) + 1 + finish
    if loc.kind == "search":
        return f"search[{target.query}]", from_search
    return f"click[{BACK}]", 1 + from_search
