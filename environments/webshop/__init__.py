"""WebShop: a real web shop (FastAPI + Jinja2, BM25 search) that agents use over HTTP or in-process."""
