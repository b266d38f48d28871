"""Shopping instructions built from target products, and the split each one belongs to.

A goal is WebShop's dict: the target ``asin``, its ``query``, ``name`` and breadcrumb (for the type
reward), 1-3 of its ``attributes``, one wanted value per option (``goal_options``), a price cap
(``price_upper``, WebShop's rule: the larger of two of the four 10-dollar steps above the price)
and the ``instruction_text`` a shopper would write.

Splits: products of the held-out categories (garden, pets) are the targets of ``valid_unseen``;
of the other products, every tenth is a ``valid_seen`` target and the rest are ``train`` targets,
so instructions never repeat across splits. Task ids are ``"<split>-<n>"``: cheap to list, and the
goal is derived from the id and the catalogue seed only when it is played.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from environments.webshop.vocab import UNSEEN_CATEGORIES

DEFAULT_COUNTS = {"train": 6000, "valid_seen": 500, "valid_unseen": 500}
SPLIT_SALT = {"train": 1, "valid_seen": 2, "valid_unseen": 3}
PRICE_STEPS = [10.0 * i for i in range(1, 100)]
NO_PRICE_CAP = 1_000_000.0
OPENERS = ["i want {a}{x}", "i need {a}{x}", "i am looking for {a}{x}", "find me {a}{x}", "i'd like to buy {a}{x}"]


def product_split(index: int, category: str) -> str:
    if category in UNSEEN_CATEGORIES:
        return "valid_unseen"
    return "valid_seen" if index % 10 == 9 else "train"


def split_targets(products: Sequence[dict[str, Any]]) -> dict[str, list[int]]:
    """Indices of the products each split draws its targets from."""
    targets: dict[str, list[int]] = {s: [] for s in SPLIT_SALT}
    for i, p in enumerate(products):
        targets[product_split(i, p["category"])].append(i)
    return targets


def task_ids(split: str, count: int | None = None) -> list[str]:
    n = DEFAULT_COUNTS[split] if count is None else int(count)
    return [f"{split}-{i}" for i in range(n)]


def parse_task_id(task_id: str) -> tuple[str, int]:
    split, _, number = str(task_id).rpartition("-")
    if split not in SPLIT_SALT or not number.isdigit():
        raise ValueError(f"Malformed task id {task_id!r}; expected '<split>-<n>', e.g. 'train-12'.")
    return split, int(number)


def price_cap(rng: random.Random, price: float) -> float:
    steps = [p for p in PRICE_STEPS if p > price][:4]
    if len(steps) < 2:
        return NO_PRICE_CAP
    return max(rng.sample(steps, 2))


def make_goal(products: Sequence[dict[str, Any]], targets: dict[str, list[int]], task_id: str,
              catalog_seed: int) -> dict[str, Any]:
    """The goal of ``task_id``: a deterministic function of the id and the catalogue seed."""
    split, number = parse_task_id(task_id)
    pool = targets[split]
    if not pool:
        raise ValueError(f"The catalogue has no target products for split {split!r}.")
    rng = random.Random(f"{catalog_seed}/{SPLIT_SALT[split]}/{number}")
    product = products[pool[rng.randrange(len(pool))]]
    n_attr = rng.randint(1, min(3, len(product["attributes"])))
    attributes = [product["attributes"][j] for j in sorted(rng.sample(range(len(product["attributes"])), n_attr))]
    goal_options = {name: rng.choice(values) for name, values in product["options"].items() if values}
    upper = price_cap(rng, product["price"])
    return {
        "task_id": task_id,
        "asin": product["asin"],
        "category": product["category"],
        "query": product["query"],
        "name": product["name"],
        "product_category": product["product_category"],
        "attributes": attributes,
        "goal_options": goal_options,
        "price_upper": upper,
        "instruction_text": instruction(rng, product["query"], attributes, goal_options, upper),
    }


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _article(noun: str) -> str:
    plural = noun.endswith("s") and not noun.endswith("ss")
    return "" if plural else ("an " if noun[:1] in "aeiou" else "a ")


def instruction(rng: random.Random, noun: str, attributes: Sequence[str], options: dict[str, str],
                upper: float) -> str:
    style = rng.randrange(3)
    if style == 0:
        body = f"{_join(attributes)} {noun}"
        text = rng.choice(OPENERS).format(a=_article(attributes[0]), x=body)
    elif style == 1:
        text = rng.choice(OPENERS).format(a=_article(noun), x=f"{noun} that is {_join(attributes)}")
    else:
        text = rng.choice(OPENERS).format(a=_article(noun), x=f"{noun} with {_join(attributes)}")
    if not _article(noun):
        text = text.replace(f"{noun} that is ", f"{noun} that are ")
    if options:
        if style == 2 or rng.random() < 0.5:
            parts = [f"in {v}" if k == "color" else f"{k} {v}" for k, v in options.items()]
            text += ", " + ", ".join(parts)
        else:
            text += " with " + ", and ".join(f"{k}: {v}" for k, v in options.items())
    if upper < NO_PRICE_CAP:
        text += f", and price lower than {upper:.2f} dollars" if rng.random() < 0.6 else f", under {upper:.0f} dollars"
    return text
