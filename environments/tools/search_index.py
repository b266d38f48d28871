"""BM25 search over a generated corpus (bm25s), behind the ``search`` and ``open`` tools."""

from __future__ import annotations

from functools import cache

from environments.tools.corpus import World, load_world

SNIPPET_CHARS = 110


class SearchIndex:
    def __init__(self, world: World, top_k: int = 5):
        import bm25s  # optional dependency (extra "tools"); imported only when a search env is made

        self._bm25s = bm25s
        self.world = world
        self.top_k = int(top_k)
        self.retriever = bm25s.BM25()
        tokens = bm25s.tokenize([f"{d.title}. {d.text}" for d in world.documents], stopwords="en",
                                show_progress=False)
        self.retriever.index(tokens, show_progress=False)

    def search(self, query: str) -> list[str]:
        """Doc ids of the best matches, best first (empty when the query has no indexed word)."""
        tokens = self._bm25s.tokenize([query[:1000]], stopwords="en", show_progress=False)
        if not tokens.ids or not tokens.ids[0]:
            return []
        k = min(self.top_k, len(self.world.documents))
        results, scores = self.retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return [self.world.documents[int(i)].doc_id for i, s in zip(results[0], scores[0]) if s > 0]

    def search_text(self, query: str) -> str:
        hits = self.search(query)
        if not hits:
            return f"No documents match {query[:80]!r}."
        lines = []
        for doc_id in hits:
            doc = self.world.by_id[doc_id]
            snippet = doc.text if len(doc.text) <= SNIPPET_CHARS else doc.text[:SNIPPET_CHARS] + "..."
            lines.append(f"[{doc_id}] {doc.title}: {snippet}")
        return "\n".join(lines)

    def open_text(self, doc_id: str) -> str:
        doc = self.world.by_id.get(doc_id.strip().strip("[]"))
        if doc is None:
            return f"There is no document {doc_id[:40]!r}. Use an id from the search results, like d0042."
        return f"[{doc.doc_id}] {doc.title}\n{doc.text}"


@cache
def index_for(world_seed: int) -> SearchIndex:
    return SearchIndex(load_world(world_seed))
