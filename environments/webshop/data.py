"""Which shop to serve (``ShopConfig``) and loading it: generated catalogue or WebShop's own files.

Loading is cached twice: on disk (catalogue and BM25 index under ``cache_dir("webshop")``) and in
the process (``shared_shop``), so many environments in one process share one catalogue.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from agentgym.util.paths import cache_dir
from environments.webshop.catalog import catalog_path, load_or_generate
from environments.webshop.goals import DEFAULT_COUNTS, make_goal, parse_task_id, split_targets
from environments.webshop.search import SearchEngine
from environments.webshop.shop import Shop, ShopData

DEFAULT_NUM_PRODUCTS = 20_000


@dataclass(frozen=True)
class ShopConfig:
    """A generated catalogue (``seed``, ``num_products``) or WebShop's files in ``data_dir``."""

    seed: int = 0
    num_products: int = DEFAULT_NUM_PRODUCTS
    data_dir: str | None = None

    def cli_args(self) -> list[str]:
        args = ["--seed", str(self.seed), "--num-products", str(self.num_products)]
        return args + (["--data-dir", self.data_dir] if self.data_dir else [])


def build_data(config: ShopConfig) -> ShopData:
    if config.data_dir:
        return _original_data(Path(config.data_dir))
    products = load_or_generate(config.seed, config.num_products)
    targets = split_targets(products)
    search = SearchEngine(products, catalog_path(config.seed, config.num_products) / "bm25")

    @lru_cache(maxsize=16_384)
    def goal_for(task_id: str) -> dict[str, Any]:
        parse_task_id(task_id)
        return make_goal(products, targets, task_id, config.seed)

    return ShopData(products, search, goal_for, dict(DEFAULT_COUNTS))


def _original_data(folder: Path) -> ShopData:
    from environments.webshop.original import load_original

    products, goals = load_original(folder)
    stamp = "|".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sorted(folder.glob("*.json")))
    digest = hashlib.sha1(f"{folder.resolve()}|{stamp}".encode()).hexdigest()[:16]
    search = SearchEngine(products, cache_dir("webshop", f"original-{digest}") / "bm25")
    by_id = {g["task_id"]: g for split_goals in goals.values() for g in split_goals}

    def goal_for(task_id: str) -> dict[str, Any]:
        if task_id not in by_id:
            raise KeyError(f"no goal {task_id!r} in {folder}")
        return by_id[task_id]

    return ShopData(products, search, goal_for, {s: len(g) for s, g in goals.items()})


_SHOPS: dict[ShopConfig, Shop] = {}
_SHOPS_LOCK = threading.Lock()


def shared_shop(config: ShopConfig) -> Shop:
    """One ``Shop`` per config and process (loading the catalogue once)."""
    with _SHOPS_LOCK:
        if config not in _SHOPS:
            _SHOPS[config] = Shop(build_data(config))
        return _SHOPS[config]
