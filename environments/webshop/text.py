"""WebShop's text observation (its ``text_rich`` mode) and the admissible actions of a page.

Buttons read ``[button] Next > [button_]``, selected options ``[clicked button] navy [clicked
button_]`` and the search box ``[Search]``, as in the original text environment.
"""

from __future__ import annotations

from typing import Any

SEARCH_TEMPLATE = "search[<your query>]"


def _button(label: str, clicked: bool = False) -> str:
    return f"[clicked button] {label} [clicked button_]" if clicked else f"[button] {label} [button_]"


def render_text(ctx: dict[str, Any]) -> str:
    lines = ["Instruction:", ctx["instruction"]]
    kind = ctx["kind"]
    if kind == "search":
        lines.append("[Search]")
    elif kind == "results":
        lines += [_button(ctx["back"]), f"Page {ctx['page']} (Total results: {ctx['total']})"]
        if ctx["has_prev"]:
            lines.append(_button(ctx["prev"]))
        if ctx["has_next"]:
            lines.append(_button(ctx["next"]))
        if not ctx["results"]:
            lines.append("No products match your search.")
        for product in ctx["results"]:
            lines += [_button(product["asin"]), product["title"], f"${product['price']:.2f}"]
    elif kind == "item":
        lines = [f"You have clicked {v}." for v in ctx["selected"].values()] + lines
        lines += [_button(ctx["back"]), _button(ctx["prev"])]
        for option in ctx["options"]:
            lines.append(option["name"])
            lines += ["  " + _button(v["value"], v["selected"]) for v in option["values"]]
        product = ctx["product"]
        lines += [product["title"], f"Price: ${product['price']:.2f}"]
        if product.get("rating") is not None:
            lines.append(f"Rating: {product['rating']}")
        lines += [_button(label) for label in ("Description", "Features", "Reviews", ctx["buy"])]
    elif kind == "sub":
        lines += [_button(ctx["back"]), _button(ctx["prev"]), ctx["sub"].capitalize() + ":"]
        lines += ctx["sub_lines"]
    elif kind == "done":
        lines += ["Thank you for shopping with us!", f"You bought: {ctx['product']['title']}",
                  "Your score (min 0.0, max 1.0)", f"{ctx['reward']:.4f}"]
    return "\n".join(lines)


def admissible_actions(ctx: dict[str, Any]) -> list[str]:
    if ctx["kind"] == "search":
        return [SEARCH_TEMPLATE]
    return [f"click[{label}]" for label in ctx["buttons"]]
