"""Read the original WebShop product and goal files into this shop.

Users who have WebShop's data (``items_shuffle*.json``, ``items_ins_v2*.json`` and optionally
``items_human_ins.json``) pass their folder as ``data_dir``. Products are converted to this shop's
fields the way WebShop's ``engine.load_products`` does (pricing, lower-cased options with "/"
replaced by " | ", attributes from the instruction file); goals follow ``get_human_goals`` (or
``get_synthetic_goals`` with one option combination per product when no human file is there).
Splits: the alphabetically last category is held out for ``valid_unseen``; of the other goals
every tenth is ``valid_seen``.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

from environments.webshop.goals import price_cap

PRODUCT_FILES = ("items_shuffle.json", "items_shuffle_1000.json")
ATTRIBUTE_FILES = ("items_ins_v2.json", "items_ins_v2_1000.json")
HUMAN_FILE = "items_human_ins.json"


def _first_existing(folder: Path, names: tuple[str, ...]) -> Path:
    for name in names:
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(f"None of {names} is in {folder}; point data_dir at WebShop's data folder.")


def _price(pricing: Any) -> float:
    numbers = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", str(pricing or "").replace(",", ""))]
    return numbers[0] if numbers else 100.0


def convert_product(raw: dict[str, Any], attributes: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, list[str]] = {}
    for name, contents in (raw.get("customization_options") or {}).items():
        if contents:
            options[name.lower()] = [str(c["value"]).strip().replace("/", " | ").lower() for c in contents]
    bullets = raw.get("small_description") or []
    title = str(raw.get("name") or raw.get("Title") or "")
    rating = re.findall(r"\d+(?:\.\d+)?", str(raw.get("average_rating") or ""))
    return {
        "asin": raw["asin"],
        "category": str(raw.get("category") or ""),
        "query": str(raw.get("query") or "").lower().strip(),
        "name": title,
        "title": title,
        "product_category": str(raw.get("product_category") or ""),
        "brand": str(raw.get("brand") or ""),
        "price": _price(raw.get("pricing")),
        "attributes": list(attributes.get(raw["asin"], {}).get("attributes") or []),
        "options": options,
        "description": str(raw.get("full_description") or ""),
        "features": [str(b) for b in (bullets if isinstance(bullets, list) else [bullets])],
        "rating": float(rating[0]) if rating else None,
    }


def _goal(product: dict[str, Any], text: str, attributes: list[str], options: Any, rng: random.Random) -> dict:
    upper = price_cap(rng, product["price"])
    suffix = f", and price lower than {upper:.2f} dollars" if upper < 1_000_000 else ""
    return {"asin": product["asin"], "category": product["category"], "query": product["query"],
            "name": product["name"], "product_category": product["product_category"], "attributes": attributes,
            "goal_options": options, "price_upper": upper, "instruction_text": text.strip().strip(".") + suffix}


def load_original(data_dir: str | Path) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """(products, goals per split) from WebShop's files in ``data_dir``."""
    folder = Path(data_dir)
    raw_products = json.loads(_first_existing(folder, PRODUCT_FILES).read_text())
    attributes = json.loads(_first_existing(folder, ATTRIBUTE_FILES).read_text())
    human = json.loads((folder / HUMAN_FILE).read_text()) if (folder / HUMAN_FILE).exists() else None
    products, seen = [], set()
    for raw in raw_products:
        if raw.get("asin") and raw["asin"] not in seen:
            seen.add(raw["asin"])
            products.append(convert_product(raw, attributes))
    goals = []
    for product in products:
        rng = random.Random(f"webshop/{product['asin']}")
        if human is not None:
            for entry in human.get(product["asin"], []):
                if entry.get("instruction_attributes"):
                    goals.append(_goal(product, entry["instruction"], list(entry["instruction_attributes"]),
                                       list(entry.get("instruction_options") or []), rng))
        else:
            info = attributes.get(product["asin"], {})
            if info.get("instruction") and info.get("instruction_attributes"):
                chosen = {k: rng.choice(v) for k, v in sorted(product["options"].items()) if v}
                text = info["instruction"] + ("" if not chosen else " with " + ", and ".join(
                    f"{k}: {v}" for k, v in chosen.items()))
                goals.append(_goal(product, text, list(info["instruction_attributes"]), chosen, rng))
    return products, split_goals(goals)


def split_goals(goals: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    categories = sorted({g["category"] for g in goals})
    held_out = categories[-1] if len(categories) > 1 else None
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "valid_seen": [], "valid_unseen": []}
    seen = 0
    for goal in goals:
        if goal["category"] == held_out:
            split = "valid_unseen"
        else:
            split, seen = ("valid_seen" if seen % 10 == 9 else "train"), seen + 1
        goal["task_id"] = f"{split}-{len(splits[split])}"
        splits[split].append(goal)
    return splits
