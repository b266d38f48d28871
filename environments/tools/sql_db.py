"""A read-only SQLite connection with row and time limits: what the agent's ``run_sql`` talks to.

Writes are refused three ways: the file is opened ``mode=ro``, ``PRAGMA query_only`` is on, and an
authorizer allows only reading statements (no ATTACH, PRAGMA, DDL or DML). A progress handler
interrupts queries past the time limit (e.g. a cross join of every table). No string or BLOB may
exceed ``MAX_VALUE_BYTES`` (``SQLITE_LIMIT_LENGTH``): ``zeroblob(500000000)`` is refused by SQLite
instead of being built, fetched and formatted outside the time limit. The whole result is bounded
too: rows are fetched one at a time and the query stops once their values pass ``MAX_RESULT_BYTES`` or
the time limit (50 rows x 40 values of just under 1 MB each once took 41 s and 2 GB), and a result has at
most ``MAX_COLUMNS`` columns, so one row holds at most ``MAX_COLUMNS x MAX_VALUE_BYTES``.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
MAX_SQL_CHARS = 5000
MAX_CELL_CHARS = 80
MAX_VALUE_BYTES = 1_000_000  # per string or BLOB value, well above any honest query's
MAX_RESULT_BYTES = 2_000_000  # the values of all fetched rows together; the table shows 80 characters a cell
MAX_COLUMNS = 100  # per result row (SQLite's default is 2000)
PROGRESS_EVERY = 1000  # VM instructions between time checks; one instruction can build a 1 MB value


class ResultTooLarge(Exception):
    """The rows fetched so far hold more than ``MAX_RESULT_BYTES``."""


class ReadOnlyDatabase:
    def __init__(self, path: Path, max_rows: int = 50, time_limit_s: float = 2.0):
        self.path = Path(path)
        self.max_rows = int(max_rows)
        self.time_limit_s = float(time_limit_s)
        self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        self.conn.execute("PRAGMA query_only = ON")
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        self.conn.setlimit(sqlite3.SQLITE_LIMIT_COLUMN, MAX_COLUMNS)
        self.conn.set_authorizer(_authorize)

    def close(self) -> None:
        self.conn.close()

    def tables(self) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]

    def create_statement(self, table: str) -> str | None:
        row = self.conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
        return row[0] if row else None

    def count(self, table: str) -> int:
        return int(self.conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])

    def query(self, sql: str, max_rows: int | None = None) -> tuple[list[str], list[tuple], bool]:
        """(column names, up to ``max_rows`` rows, whether more rows exist).

        Raises sqlite3.Error (an interrupted query among them) or ResultTooLarge.
        """
        limit = self.max_rows if max_rows is None else max_rows
        deadline = time.monotonic() + self.time_limit_s
        self.conn.set_progress_handler(lambda: int(time.monotonic() > deadline), PROGRESS_EVERY)
        rows: list[tuple] = []
        size = 0
        try:
            cursor = self.conn.execute(sql)
            names = [d[0] for d in cursor.description or []]
            while len(rows) <= limit and (row := cursor.fetchone()) is not None:
                size += sum(_value_bytes(v) for v in row)
                if size > MAX_RESULT_BYTES:
                    raise ResultTooLarge(f"{len(rows) + 1} rows hold {size:,} bytes")
                if time.monotonic() > deadline:  # time spent in Python between rows counts too
                    raise sqlite3.OperationalError("interrupted")
                rows.append(row)
        finally:
            self.conn.set_progress_handler(None, 0)
        return names, rows[:limit], len(rows) > limit

    def run_sql(self, sql: str) -> str:
        """What the agent sees for ``run_sql``: a text table, or an explanation of the error."""
        if len(sql) > MAX_SQL_CHARS:
            return f"The query is {len(sql)} characters long; the limit is {MAX_SQL_CHARS}."
        try:
            names, rows, more = self.query(sql)
        except sqlite3.DatabaseError as exc:
            return _explain(exc, self.time_limit_s)
        except ResultTooLarge as exc:
            return (f"The query was stopped: its result would be larger than {MAX_RESULT_BYTES:,} bytes ({exc}); "
                    "select fewer or smaller columns, or add LIMIT.")
        except (sqlite3.Warning, ValueError, OverflowError, MemoryError) as exc:
            return f"SQL error: {exc}"
        if not names:
            return "The statement ran and returned no result set."
        shown = f"{len(rows)} row{'s' if len(rows) != 1 else ''}"
        if more:
            shown = f"first {len(rows)} rows shown; more rows exist (aggregate or add LIMIT)"
        return f"{shown}:\n" + format_table(names, rows)


def _authorize(action: int, arg1: Any, arg2: Any, db_name: Any, trigger: Any) -> int:
    return sqlite3.SQLITE_OK if action in _ALLOWED else sqlite3.SQLITE_DENY


def _value_bytes(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes)) else 8


def _explain(exc: sqlite3.DatabaseError, time_limit_s: float) -> str:
    message = str(exc)
    if "interrupted" in message:
        return f"The query was stopped: it ran longer than the {time_limit_s:g} s time limit."
    if "too big" in message:
        return f"The query was stopped: a value would be larger than {MAX_VALUE_BYTES:,} bytes ({message})."
    if any(word in message for word in ("not authorized", "authorization denied", "readonly", "query_only")):
        return ("Refused: the database is read-only. Only SELECT queries (and WITH ... SELECT) are allowed; "
                "INSERT, UPDATE, DELETE, CREATE, DROP, ATTACH and PRAGMA are not.")
    return f"SQL error: {message}"


def format_table(names: list[str], rows: list[tuple]) -> str:
    """A pipe-separated table; long cells are cut so one value cannot flood the observation."""
    def cell(value: Any) -> str:
        if isinstance(value, (str, bytes)):
            value = value[: MAX_CELL_CHARS + 1]  # cut before converting: str() of a large BLOB is 4x its size
        text = "NULL" if value is None else str(value)
        return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 3] + "..."

    lines = [" | ".join(names)]
    lines += [" | ".join(cell(v) for v in row) for row in rows]
    return "\n".join(lines)
