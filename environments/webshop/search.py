"""BM25 product search (the bm25s library), with the index cached next to the catalogue.

Documents are a product's title, type, breadcrumb, attributes and option values, lower-cased,
stop-word filtered and lightly stemmed (plural "s"), so "navy polo shirts" finds "Navy ... Polo
Shirt". A query returns at most ``max_results`` ASINs with a positive score, best first.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import bm25s

MAX_RESULTS = 50
_TOKEN = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be but by for from has have i if in into is it its me my need of on or our please that "
    "the their then there these this to want was we what which with you your looking find am lower than price "
    "dollars dollar under".split()
)


def stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss") and not word.endswith("us"):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    return [stem(t) for t in _TOKEN.findall(text.lower()) if t not in _STOP]


def document_text(product: dict[str, Any]) -> str:
    options = " ".join(v for values in product["options"].values() for v in values)
    crumbs = product["product_category"].replace("›", " ")
    return " ".join([product["title"], product["query"], crumbs, " ".join(product["attributes"]), options])


class SearchEngine:
    """BM25 over a catalogue; ``search`` is cached per normalised query."""

    def __init__(self, products: Sequence[dict[str, Any]], index_dir: Path | None = None):
        self.asins = [p["asin"] for p in products]
        self.retriever = _load_index(index_dir, len(products)) if index_dir else None
        if self.retriever is None:
            import bm25s  # imported here: it pulls in scipy, which plain construction should not pay for

            self.retriever = bm25s.BM25()
            self.retriever.index([tokenize(document_text(p)) for p in products], show_progress=False)
            if index_dir:
                _save_index(self.retriever, index_dir, len(products))
        self._cached = lru_cache(maxsize=8192)(self._search)

    def search(self, query: str, max_results: int = MAX_RESULTS) -> list[str]:
        return list(self._cached(" ".join(tokenize(query)), max_results))

    def _search(self, normalised: str, max_results: int) -> tuple[str, ...]:
        tokens = normalised.split()
        if not tokens or not self.asins:
            return ()
        known = [t for t in tokens if t in self.retriever.vocab_dict]
        if not known:
            return ()
        # get_scores, not retrieve: retrieve wraps every query in tqdm, which starts a monitor thread.
        scores = np.asarray(self.retriever.get_scores(known), dtype=np.float64)
        k = min(max_results, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((top, -scores[top]))]  # best first; equal scores in catalogue order
        return tuple(self.asins[int(d)] for d in top if scores[d] > 0)


def _load_index(index_dir: Path, n_docs: int) -> bm25s.BM25 | None:
    marker = index_dir / "agentgym.json"
    if not marker.exists() or json.loads(marker.read_text()).get("n_docs") != n_docs:
        return None
    import bm25s

    return bm25s.BM25.load(str(index_dir), show_progress=False)


def _save_index(retriever: bm25s.BM25, index_dir: Path, n_docs: int) -> None:
    """Save to a fresh directory and move it into place, so a reader never sees half an index."""
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=index_dir.parent, prefix=".index-"))
    try:
        retriever.save(str(tmp), show_progress=False)
        (tmp / "agentgym.json").write_text(json.dumps({"n_docs": n_docs}))
        if not index_dir.exists():
            tmp.rename(index_dir)
    except OSError:
        if not (index_dir / "agentgym.json").exists():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
