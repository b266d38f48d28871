"""A seedable generator of a realistic product catalogue, cached on disk.

Products have WebShop's fields: ASIN, title, breadcrumb (``product_category``), search ``query``
(the product type), attributes, options (colour, size, flavour, ...), price, description, feature
bullets and rating. The same seed and size always give the same catalogue; it is written once under
``agentgym.util.paths.cache_dir("webshop", ...)`` and read back on later runs.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

from agentgym.util.paths import cache_dir
from environments.webshop.fuzzy import normalize_color
from environments.webshop.vocab import BRAND_HEADS, BRAND_TAILS, CATEGORIES, Category, ProductType

CATALOG_VERSION = 1
ASIN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
SMALL_WORDS = {"and", "or", "of", "to", "for", "with", "in", "on", "a", "an", "the", "up", "off"}
USES = ["everyday use", "home and travel", "gifting", "busy mornings", "weekends", "all seasons"]
FEATURE_TEMPLATES = [
    "{A}: chosen for shoppers who want a {a} {noun} that lasts.",
    "{A} - tested in our lab so you can rely on it every day.",
    "{A}: one of the details customers mention most in reviews.",
    "{A}. Backed by a 30-day return policy and friendly support.",
]


def catalog_path(seed: int, num_products: int) -> Path:
    return cache_dir("webshop", f"catalog-v{CATALOG_VERSION}-s{seed}-n{num_products}")


def load_or_generate(seed: int = 0, num_products: int = 20_000) -> list[dict[str, Any]]:
    """The catalogue of ``seed`` and ``num_products``: from the cache, or generated and cached."""
    path = catalog_path(seed, num_products) / "products.json.gz"
    if path.exists():
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return json.load(f)
    products = generate_catalog(seed, num_products)
    write_json_atomic(path, products)
    return products


def write_json_atomic(path: Path, data: Any) -> None:
    """Write gzip'd JSON via a temporary file so concurrent readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as raw, gzip.open(raw, "wt", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def generate_catalog(seed: int, num_products: int) -> list[dict[str, Any]]:
    """``num_products`` products, spread evenly over every product type of every category."""
    if num_products < 1:
        raise ValueError(f"num_products must be positive, got {num_products}")
    rng = random.Random(seed)
    kinds = [(cat, ptype) for cat in CATEGORIES for ptype in cat.types]
    brands = {ptype.query: _brands(rng, 12) for _, ptype in kinds}
    asins: set[str] = set()
    products = []
    for i in range(num_products):
        cat, ptype = kinds[i % len(kinds)]
        products.append(_product(rng, cat, ptype, brands[ptype.query], _new_asin(rng, asins)))
    return products


def _brands(rng: random.Random, n: int) -> list[str]:
    return sorted({rng.choice(BRAND_HEADS) + rng.choice(BRAND_TAILS) for _ in range(n)})


def _new_asin(rng: random.Random, taken: set[str]) -> str:
    while True:
        asin = "B0" + "".join(rng.choices(ASIN_ALPHABET, k=8))
        if asin not in taken:
            taken.add(asin)
            return asin


def title_case(text: str) -> str:
    words = text.split()
    return " ".join(w if (w in SMALL_WORDS and i) else w[:1].upper() + w[1:] for i, w in enumerate(words))


def _pick(rng: random.Random, pool: tuple[str, ...] | list[str], low: int, high: int) -> list[str]:
    k = rng.randint(min(low, len(pool)), min(high, len(pool)))
    return [pool[j] for j in sorted(rng.sample(range(len(pool)), k))]


def _options(rng: random.Random, ptype: ProductType) -> dict[str, list[str]]:
    """Some values of each option pool; values stay distinct after WebShop's colour normalisation."""
    options: dict[str, list[str]] = {}
    used: set[str] = set()
    for name, pool in ptype.options.items():
        values, seen = [], set()
        for value in _pick(rng, pool, 2, 6):
            norm = normalize_color(value)
            if norm not in seen and value not in used:
                values.append(value)
                seen.add(norm)
                used.add(value)
        options[name] = values
    return options


def _product(rng: random.Random, cat: Category, ptype: ProductType, brands: list[str],
             asin: str) -> dict[str, Any]:
    type_attrs = _pick(rng, ptype.attributes, 2, 4)
    cat_attrs = _pick(rng, cat.attributes, 0, 2) if rng.random() < 0.7 else []
    attributes = type_attrs + cat_attrs
    brand = rng.choice(brands)
    in_title = type_attrs[: rng.randint(1, 2)]
    title = f"{brand} {title_case(' '.join(in_title))} {ptype.noun}"
    if rng.random() < 0.3 and cat_attrs:
        title += f", {title_case(cat_attrs[0])}"
    lo, hi = ptype.price
    price = round(max(1.0, float(int(rng.uniform(lo, hi))) + rng.choice([0.99, 0.49, 0.95, 0.0])), 2)
    return {
        "asin": asin,
        "category": cat.name,
        "query": ptype.query,
        "name": title,
        "title": title,
        "product_category": " › ".join((cat.root,) + ptype.crumbs),
        "brand": brand,
        "price": price,
        "attributes": attributes,
        "options": _options(rng, ptype),
        "description": _description(rng, brand, ptype, attributes),
        "features": [_feature(rng, a, ptype) for a in attributes],
        "rating": round(float(rng.uniform(3.0, 5.0)), 1),
    }


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _description(rng: random.Random, brand: str, ptype: ProductType, attributes: list[str]) -> str:
    noun = ptype.noun.lower()
    first = attributes[0]
    rest = attributes[1:] or [first]
    sentences = [
        f"The {brand} {ptype.noun} is {_article(first)} {first} {noun} made for {rng.choice(USES)}.",
        "It is " + ", ".join(rest[:-1]) + (" and " if len(rest) > 1 else "") + rest[-1] + ".",
        f"Every {noun} from {brand} is checked by hand before it ships.",
    ]
    return " ".join(sentences)


def _feature(rng: random.Random, attribute: str, ptype: ProductType) -> str:
    template = rng.choice(FEATURE_TEMPLATES)
    return template.format(A=attribute.upper(), a=attribute, noun=ptype.noun.lower())
