"""WebShop's reward (Yao et al. 2022, ``web_agent_site/engine/goal.py``), in [0, 1].

    reward = r_type * (attribute matches + option matches + price ok) / (n_attributes + n_options + 1)

A goal attribute matches when a product attribute fuzzily equals it (token-set ratio > 85) or it
appears verbatim in the title, features or description; a goal option matches when a chosen option
does (after colour normalisation). ``r_type`` is 1 for the right kind of product and drops to 0.5,
0.1 or 0 as the query, breadcrumb and title nouns stop agreeing. Success means reward 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from environments.webshop.fuzzy import normalize_color, token_set_ratio, type_nouns

MATCH_THRESHOLD = 85


def type_reward(product: dict[str, Any], goal: dict[str, Any]) -> dict[str, Any]:
    query_match = product["query"] == goal["query"]
    product_crumbs = {x.strip() for x in product["product_category"].split("›")}
    goal_crumbs = {x.strip() for x in goal["product_category"].split("›")}
    category_match = len(product_crumbs & goal_crumbs) >= 2
    desired = type_nouns(goal["name"])
    bought = type_nouns(product["name"])
    title_score = 0.2 if not desired else len(desired & bought) / len(desired)
    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return {"r_type": r_type, "query_match": query_match, "category_match": category_match,
            "title_score": title_score}


def attribute_matches(product: dict[str, Any], goal_attributes: Iterable[str]) -> int:
    text_fields = None
    matches = 0
    for wanted in goal_attributes:
        if any(token_set_ratio(have, wanted) > MATCH_THRESHOLD for have in product["attributes"]):
            matches += 1
            continue
        if text_fields is None:
            text_fields = (product["title"].lower(), " ".join(product["features"]).lower(),
                           product["description"].lower())
        if any(wanted in text for text in text_fields):
            matches += 1
    return matches


def option_matches(chosen: Iterable[str], wanted: Iterable[str]) -> int:
    chosen = [normalize_color(o) for o in chosen]
    return sum(1 for w in (normalize_color(o) for o in wanted)
               if any(token_set_ratio(c, w) > MATCH_THRESHOLD for c in chosen))


def goal_option_values(goal: dict[str, Any]) -> list[str]:
    options = goal["goal_options"]
    return list(options.values()) if isinstance(options, dict) else list(options)


def get_reward(product: dict[str, Any], goal: dict[str, Any], price: float, options: dict[str, str],
               verbose: bool = False) -> float | tuple[float, dict[str, Any]]:
    """The score of buying ``product`` at ``price`` with the chosen ``options`` for ``goal``."""
    wanted_options = goal_option_values(goal)
    r_type = type_reward(product, goal)
    r_price = float(price <= goal["price_upper"]) if goal["price_upper"] > 0 else 0.0
    n_attr = attribute_matches(product, goal["attributes"])
    n_opt = option_matches(options.values(), wanted_options)
    total = (n_attr + n_opt + r_price) / (len(goal["attributes"]) + len(wanted_options) + 1)
    total *= r_type["r_type"]
    if not verbose:
        return total
    return total, {**r_type, "attribute_matches": n_attr, "option_matches": n_opt, "price_ok": bool(r_price)}
