"""Question templates for SQL-v0: each draws a question and its reference query from a schema and a
database; the answer is what the reference query returns on that database.

Templates read only the schema declarations (tables, column kinds, foreign keys), so which question
types a schema supports is known without building its database (``applicable_kinds``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from environments.tools.sql_schemas import Column, Schema, Table

NUMERIC = ("int", "real")
TIE_BREAK = "; if several tie, the one that comes first alphabetically."


@dataclass(frozen=True)
class Question:
    kind: str
    text: str
    sql: str
    tables: tuple[str, ...]
    answer: Any  # one value, or a list of values when ``is_list``
    is_list: bool = False


def quote(value: Any) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _fks(schema: Schema) -> list[tuple[Table, Column, Table]]:
    """(child, fk column, parent) for every foreign key."""
    return [(t, c, schema.table(c.spec)) for t in schema.tables for c in t.of_kind("fk")]


def _pick(rng: np.random.Generator, items: list) -> Any:
    return items[int(rng.integers(len(items)))]


def _scalar(conn: sqlite3.Connection, sql: str) -> Any:
    row = conn.execute(sql).fetchone()
    return row[0] if row else None


def _values(conn: sqlite3.Connection, table: str, column: str) -> list[Any]:
    return [r[0] for r in conn.execute(f"SELECT DISTINCT {column} FROM {table} ORDER BY {column}")]


# ---- templates: (schema, conn, rng) -> Question | None (None: this draw was ambiguous, draw again) ----
def count_filter(schema, conn, rng):
    table = _pick(rng, [t for t in schema.tables if t.of_kind("category")])
    col = _pick(rng, table.of_kind("category"))
    value = _pick(rng, _values(conn, table.name, col.name))
    sql = f"SELECT COUNT(*) FROM {table.name} WHERE {col.name} = {quote(value)}"
    text = f"How many {table.plural} have the {col.phrase} '{value}'?"
    return Question("count_filter", text, sql, (table.name,), _scalar(conn, sql))


AGGREGATES = {"AVG": "average", "SUM": "total", "MAX": "highest", "MIN": "lowest"}


def aggregate_filter(schema, conn, rng):
    table = _pick(rng, [t for t in schema.tables if t.of_kind("category") and t.of_kind(*NUMERIC)])
    cat, num = _pick(rng, table.of_kind("category")), _pick(rng, table.of_kind(*NUMERIC))
    agg = _pick(rng, list(AGGREGATES))
    value = _pick(rng, _values(conn, table.name, cat.name))
    sql = f"SELECT ROUND({agg}({num.name}), 2) FROM {table.name} WHERE {cat.name} = {quote(value)}"
    text = (f"What is the {AGGREGATES[agg]} {num.phrase} of {table.plural} whose {cat.phrase} is '{value}'? "
            "Round to 2 decimals.")
    answer = _scalar(conn, sql)
    return None if answer is None else Question("aggregate_filter", text, sql, (table.name,), answer)


def argmax(schema, conn, rng):
    table = _pick(rng, [t for t in schema.tables if t.label and t.of_kind(*NUMERIC)])
    num, label = _pick(rng, table.of_kind(*NUMERIC)), table.label
    desc = bool(rng.integers(2))
    sql = (f"SELECT {label.name} FROM {table.name} ORDER BY {num.name} {'DESC' if desc else 'ASC'}, "
           f"{label.name} ASC LIMIT 1")
    text = (f"Which {table.singular} has the {'highest' if desc else 'lowest'} {num.phrase}? "
            f"Answer with its {label.phrase}{TIE_BREAK}")
    return Question("argmax", text, sql, (table.name,), _scalar(conn, sql))


def count_join(schema, conn, rng):
    child, fk, parent = _pick(rng, [x for x in _fks(schema) if x[2].label])
    label = parent.label.name
    name = _scalar(conn, f"SELECT p.{label} FROM {parent.name} p JOIN {child.name} c ON c.{fk.name} = p.id "
                         f"ORDER BY p.id LIMIT 1 OFFSET {int(rng.integers(5))}")
    if name is None:
        return None
    sql = (f"SELECT COUNT(*) FROM {child.name} c JOIN {parent.name} p ON c.{fk.name} = p.id "
           f"WHERE p.{label} = {quote(name)}")
    text = f"How many {child.plural} {fk.verb} the {parent.singular} '{name}'?"
    return Question("count_join", text, sql, (child.name, parent.name), _scalar(conn, sql))


def top_parent(schema, conn, rng):
    child, fk, parent = _pick(rng, [x for x in _fks(schema) if x[2].label])
    label = parent.label.name
    sql = (f"SELECT p.{label} FROM {parent.name} p JOIN {child.name} c ON c.{fk.name} = p.id "
           f"GROUP BY p.id ORDER BY COUNT(*) DESC, p.{label} ASC LIMIT 1")
    text = (f"Which {parent.singular} has the largest number of {child.plural} ({child.plural} that {fk.verb} it)? "
            f"Answer with its {parent.label.phrase}{TIE_BREAK}")
    return Question("top_parent", text, sql, (child.name, parent.name), _scalar(conn, sql))


def sum_join(schema, conn, rng):
    child, fk, parent = _pick(rng, [x for x in _fks(schema) if x[0].of_kind(*NUMERIC) and x[2].of_kind("category")])
    num, cat = _pick(rng, child.of_kind(*NUMERIC)), _pick(rng, parent.of_kind("category"))
    value = _pick(rng, _values(conn, parent.name, cat.name))
    sql = (f"SELECT ROUND(SUM(c.{num.name}), 2) FROM {child.name} c JOIN {parent.name} p ON c.{fk.name} = p.id "
           f"WHERE p.{cat.name} = {quote(value)}")
    answer = _scalar(conn, sql)
    text = (f"What is the total {num.phrase} of {child.plural} that {fk.verb} {parent.plural} whose {cat.phrase} "
            f"is '{value}'? Round to 2 decimals.")
    return None if answer is None else Question("sum_join", text, sql, (child.name, parent.name), answer)


def list_filter(schema, conn, rng):
    table = _pick(rng, [t for t in schema.tables if t.label and t.of_kind("category") and t.of_kind(*NUMERIC)])
    cat, num = _pick(rng, table.of_kind("category")), _pick(rng, table.of_kind(*NUMERIC))
    value = _pick(rng, _values(conn, table.name, cat.name))
    numbers = sorted(_values(conn, table.name, num.name))
    threshold = numbers[int(len(numbers) * float(rng.uniform(0.5, 0.9)))]
    sql = (f"SELECT {table.label.name} FROM {table.name} WHERE {cat.name} = {quote(value)} "
           f"AND {num.name} > {threshold} ORDER BY {table.label.name}")
    rows = [r[0] for r in conn.execute(sql)]
    if not 1 <= len(rows) <= 8:
        return None
    text = (f"List the {table.label.phrase}s of all {table.plural} whose {cat.phrase} is '{value}' and whose "
            f"{num.phrase} is above {threshold}. Give them comma-separated.")
    return Question("list_filter", text, sql, (table.name,), rows, is_list=True)


def distinct_parents(schema, conn, rng):
    child, fk, parent = _pick(rng, [x for x in _fks(schema) if x[0].of_kind("category")])
    cat = _pick(rng, child.of_kind("category"))
    value = _pick(rng, _values(conn, child.name, cat.name))
    sql = f"SELECT COUNT(DISTINCT {fk.name}) FROM {child.name} WHERE {cat.name} = {quote(value)}"
    text = f"How many different {parent.plural} have {child.plural} with the {cat.phrase} '{value}'?"
    return Question("distinct_parents", text, sql, (child.name,), _scalar(conn, sql))


def _chains(schema: Schema) -> list[tuple[Table, Column, Table, Column, Table]]:
    return [(c, fk, mid, fk2, top) for c, fk, mid in _fks(schema) for m, fk2, top in _fks(schema)
            if m is mid and top.label]


def chain_join(schema, conn, rng):
    child, fk, mid, fk2, top = _pick(rng, _chains(schema))
    name = _pick(rng, _values(conn, top.name, top.label.name))
    sql = (f"SELECT COUNT(*) FROM {child.name} c JOIN {mid.name} m ON c.{fk.name} = m.id "
           f"JOIN {top.name} t ON m.{fk2.name} = t.id WHERE t.{top.label.name} = {quote(name)}")
    text = f"How many {child.plural} {fk.verb} {mid.plural} that {fk2.verb} the {top.singular} '{name}'?"
    return Question("chain_join", text, sql, (child.name, mid.name, top.name), _scalar(conn, sql))


TEMPLATES: dict[str, Callable[[Schema, sqlite3.Connection, np.random.Generator], Question | None]] = {
    f.__name__: f for f in (count_filter, aggregate_filter, argmax, count_join, top_parent, sum_join,
                            list_filter, distinct_parents, chain_join)
}


def applicable_kinds(schema: Schema) -> list[str]:
    """Question types this schema's structure supports (cheap: no database needed)."""
    fks = _fks(schema)
    tables = schema.tables
    needs = {
        "count_filter": any(t.of_kind("category") for t in tables),
        "aggregate_filter": any(t.of_kind("category") and t.of_kind(*NUMERIC) for t in tables),
        "argmax": any(t.label and t.of_kind(*NUMERIC) for t in tables),
        "count_join": any(p.label for _, _, p in fks),
        "top_parent": any(p.label for _, _, p in fks),
        "sum_join": any(c.of_kind(*NUMERIC) and p.of_kind("category") for c, _, p in fks),
        "list_filter": any(t.label and t.of_kind("category") and t.of_kind(*NUMERIC) for t in tables),
        "distinct_parents": any(c.of_kind("category") for c, _, _ in fks),
        "chain_join": bool(_chains(schema)),
    }
    return [kind for kind in TEMPLATES if needs[kind]]


def make_question(schema: Schema, conn: sqlite3.Connection, kind: str, seed: int, tries: int = 200) -> Question:
    """Draw an unambiguous question of ``kind``; deterministic in ``seed``."""
    rng = np.random.default_rng([seed, 7])
    for _ in range(tries):
        question = TEMPLATES[kind](schema, conn, rng)
        if question is not None:
            return question
    raise RuntimeError(f"no unambiguous {kind} question for schema {schema.name} (seed {seed})")
