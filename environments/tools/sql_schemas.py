"""Seedable relational schemas (company, library, clinic, ...) and the SQLite databases built from them.

A schema is declared once as tables of typed columns; each column kind says how values are drawn
(fictional names, categories, ranges, dates, foreign keys). Question templates read the same
declarations, so every schema gets every question type without per-schema code.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from environments.tools.names import NameMaker


@dataclass(frozen=True)
class Column:
    """``kind``: label (a unique name), category, int, real, date or fk (``spec`` = parent table)."""

    name: str
    kind: str
    phrase: str
    spec: Any = None
    verb: str = ""  # for fk: how child rows relate to the parent ("work in", "were written by")


@dataclass(frozen=True)
class Table:
    name: str
    singular: str
    plural: str
    rows: tuple[int, int]
    columns: tuple[Column, ...]

    def of_kind(self, *kinds: str) -> list[Column]:
        return [c for c in self.columns if c.kind in kinds]

    @property
    def label(self) -> Column | None:
        labels = self.of_kind("label")
        return labels[0] if labels else None


@dataclass(frozen=True)
class Schema:
    name: str
    tables: tuple[Table, ...] = field(default_factory=tuple)

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)


def _c(name: str, kind: str, phrase: str, spec: Any = None, verb: str = "") -> Column:
    return Column(name, kind, phrase, spec, verb)


CITIES = ["Arvenholm", "Quillport", "Dravona", "Tessmere", "Olvik", "Brannoch"]
COUNTRIES = ["Veldria", "Osmark", "Tallune", "Korvessa", "Einholt"]

SCHEMAS: dict[str, Schema] = {s.name: s for s in [
    Schema("company", (
        Table("departments", "department", "departments", (5, 8), (
            _c("name", "label", "name", "thing"), _c("city", "category", "city", CITIES[:4]),
            _c("budget", "int", "budget", (100_000, 2_000_000)), _c("floor", "int", "floor", (1, 12)))),
        Table("employees", "employee", "employees", (40, 80), (
            _c("name", "label", "name", "person"),
            _c("department_id", "fk", "department", "departments", "work in"),
            _c("title", "category", "job title", ["Engineer", "Analyst", "Manager", "Designer", "Technician"]),
            _c("salary", "int", "salary", (38_000, 160_000)), _c("hire_year", "int", "hire year", (2005, 2025)))),
        Table("projects", "project", "projects", (10, 20), (
            _c("name", "label", "name", "thing"),
            _c("department_id", "fk", "department", "departments", "are run by"),
            _c("status", "category", "status", ["active", "paused", "finished"]),
            _c("cost", "real", "cost", (5_000.0, 400_000.0)))),
    )),
    Schema("library", (
        Table("authors", "author", "authors", (8, 15), (
            _c("name", "label", "name", "person"), _c("country", "category", "country", COUNTRIES),
            _c("birth_year", "int", "birth year", (1920, 1995)))),
        Table("books", "book", "books", (30, 70), (
            _c("title", "label", "title", "title"),
            _c("author_id", "fk", "author", "authors", "were written by"),
            _c("genre", "category", "genre", ["mystery", "poetry", "history", "fantasy", "science"]),
            _c("pages", "int", "page count", (80, 900)), _c("rating", "real", "rating", (1.0, 5.0)))),
        Table("members", "member", "members", (20, 40), (
            _c("name", "label", "name", "person"), _c("city", "category", "city", CITIES),
            _c("join_year", "int", "join year", (2010, 2025)))),
        Table("loans", "loan", "loans", (60, 120), (
            _c("book_id", "fk", "book", "books", "are of"),
            _c("member_id", "fk", "member", "members", "were made by"),
            _c("days", "int", "loan length in days", (1, 60)), _c("loan_date", "date", "loan date", (2022, 2025)))),
    )),
    Schema("clinic", (
        Table("doctors", "doctor", "doctors", (6, 12), (
            _c("name", "label", "name", "person"),
            _c("specialty", "category", "specialty", ["cardiology", "dermatology", "neurology", "pediatrics"]),
            _c("experience_years", "int", "years of experience", (1, 40)))),
        Table("patients", "patient", "patients", (30, 60), (
            _c("name", "label", "name", "person"), _c("city", "category", "city", CITIES[:5]),
            _c("birth_year", "int", "birth year", (1940, 2015)),
            _c("insurance", "category", "insurance plan", ["basic", "plus", "premium"]))),
        Table("appointments", "appointment", "appointments", (80, 150), (
            _c("patient_id", "fk", "patient", "patients", "were booked by"),
            _c("doctor_id", "fk", "doctor", "doctors", "are with"),
            _c("cost", "real", "cost", (40.0, 900.0)),
            _c("status", "category", "status", ["completed", "cancelled", "no-show"]),
            _c("visit_date", "date", "visit date", (2023, 2025)))),
    )),
    Schema("school", (
        Table("teachers", "teacher", "teachers", (6, 12), (
            _c("name", "label", "name", "person"),
            _c("subject", "category", "subject", ["maths", "physics", "literature", "art", "biology"]),
            _c("salary", "int", "salary", (30_000, 90_000)))),
        Table("courses", "course", "courses", (12, 25), (
            _c("name", "label", "name", "thing"),
            _c("teacher_id", "fk", "teacher", "teachers", "are taught by"),
            _c("level", "category", "level", ["intro", "intermediate", "advanced"]),
            _c("credits", "int", "credits", (1, 6)))),
        Table("students", "student", "students", (30, 60), (
            _c("name", "label", "name", "person"), _c("city", "category", "home town", CITIES[:5]),
            _c("year", "int", "school year", (1, 5)))),
        Table("enrollments", "enrollment", "enrollments", (80, 160), (
            _c("student_id", "fk", "student", "students", "belong to"),
            _c("course_id", "fk", "course", "courses", "are in"),
            _c("grade", "int", "grade", (40, 100)))),
    )),
    Schema("store", (
        Table("products", "product", "products", (15, 30), (
            _c("name", "label", "name", "thing"),
            _c("category", "category", "category", ["garden", "kitchen", "toys", "tools", "books"]),
            _c("price", "real", "price", (2.0, 500.0)), _c("stock", "int", "stock", (0, 300)))),
        Table("customers", "customer", "customers", (20, 45), (
            _c("name", "label", "name", "person"), _c("city", "category", "city", CITIES),
            _c("tier", "category", "loyalty tier", ["bronze", "silver", "gold"]))),
        Table("orders", "order", "orders", (80, 150), (
            _c("customer_id", "fk", "customer", "customers", "were placed by"),
            _c("product_id", "fk", "product", "products", "are for"),
            _c("quantity", "int", "quantity", (1, 12)),
            _c("status", "category", "status", ["shipped", "pending", "returned"]),
            _c("order_date", "date", "order date", (2023, 2025)))),
    )),
    # ---- schemas held out for valid_unseen ----
    Schema("airline", (
        Table("airports", "airport", "airports", (6, 10), (
            _c("name", "label", "name", "place"), _c("country", "category", "country", COUNTRIES),
            _c("runways", "int", "number of runways", (1, 6)))),
        Table("flights", "flight", "flights", (25, 50), (
            _c("code", "label", "flight code", "code"),
            _c("origin_id", "fk", "origin airport", "airports", "depart from"),
            _c("aircraft", "category", "aircraft type", ["A320", "B737", "E190", "ATR72"]),
            _c("duration_min", "int", "duration in minutes", (35, 600)))),
        Table("passengers", "passenger", "passengers", (30, 60), (
            _c("name", "label", "name", "person"), _c("nationality", "category", "nationality", COUNTRIES),
            _c("miles", "int", "frequent-flyer miles", (0, 250_000)))),
        Table("bookings", "booking", "bookings", (80, 150), (
            _c("passenger_id", "fk", "passenger", "passengers", "were made by"),
            _c("flight_id", "fk", "flight", "flights", "are on"),
            _c("seat_class", "category", "seat class", ["economy", "premium", "business"]),
            _c("fare", "real", "fare", (49.0, 2400.0)))),
    )),
    Schema("hotel", (
        Table("hotels", "hotel", "hotels", (5, 9), (
            _c("name", "label", "name", "organisation"), _c("city", "category", "city", CITIES),
            _c("stars", "int", "star rating", (1, 5)))),
        Table("rooms", "room", "rooms", (30, 60), (
            _c("label", "label", "room label", "code"),
            _c("hotel_id", "fk", "hotel", "hotels", "belong to"),
            _c("room_type", "category", "room type", ["single", "double", "suite"]),
            _c("nightly_rate", "real", "nightly rate", (35.0, 650.0)))),
        Table("guests", "guest", "guests", (25, 50), (
            _c("name", "label", "name", "person"), _c("country", "category", "country", COUNTRIES),
            _c("vip", "category", "VIP status", ["yes", "no"]))),
        Table("stays", "stay", "stays", (70, 140), (
            _c("guest_id", "fk", "guest", "guests", "were booked by"),
            _c("room_id", "fk", "room", "rooms", "are in"),
            _c("nights", "int", "number of nights", (1, 14)),
            _c("checkin_date", "date", "check-in date", (2023, 2025)))),
    )),
]}
TRAIN_SCHEMAS = ("company", "library", "clinic", "school", "store")
UNSEEN_SCHEMAS = ("airline", "hotel")
SQL_TYPES = {"label": "TEXT", "category": "TEXT", "int": "INTEGER", "real": "REAL", "date": "TEXT", "fk": "INTEGER"}


def create_statement(table: Table) -> str:
    columns = ["id INTEGER PRIMARY KEY"]
    for col in table.columns:
        ref = f" REFERENCES {col.spec}(id)" if col.kind == "fk" else ""
        not_null = " NOT NULL UNIQUE" if col.kind == "label" else " NOT NULL"
        columns.append(f"{col.name} {SQL_TYPES[col.kind]}{not_null}{ref}")
    return f"CREATE TABLE {table.name} (\n  " + ",\n  ".join(columns) + "\n)"


def _value(col: Column, rng: np.random.Generator, names: NameMaker, counts: dict[str, int]) -> Any:
    if col.kind == "label":
        return getattr(names, col.spec)()
    if col.kind == "category":
        return str(rng.choice(col.spec))
    if col.kind == "int":
        return int(rng.integers(col.spec[0], col.spec[1] + 1))
    if col.kind == "real":
        return round(float(rng.uniform(*col.spec)), 2)
    if col.kind == "date":
        year = int(rng.integers(col.spec[0], col.spec[1] + 1))
        return f"{year}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}"
    if col.kind == "fk":
        return int(rng.integers(1, counts[col.spec] + 1))
    raise ValueError(f"unknown column kind {col.kind!r}")


def generate_rows(schema: Schema, seed: int) -> dict[str, list[tuple]]:
    """All rows of every table, deterministic from ``seed`` (ids are 1..n in insertion order)."""
    rng = np.random.default_rng([seed, sum(map(ord, schema.name))])
    names = NameMaker(rng)
    counts: dict[str, int] = {}
    rows: dict[str, list[tuple]] = {}
    for table in schema.tables:
        n = int(rng.integers(table.rows[0], table.rows[1] + 1))
        rows[table.name] = [(i + 1, *(_value(c, rng, names, counts) for c in table.columns)) for i in range(n)]
        counts[table.name] = n
    return rows


def build_database(schema: Schema, seed: int, path: Path) -> Path:
    """Write the SQLite file for (schema, seed) atomically at ``path`` unless it already exists."""
    if path.exists():
        return path
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        with sqlite3.connect(tmp) as conn:
            for table, table_rows in generate_rows(schema, seed).items():
                spec = schema.table(table)
                conn.execute(create_statement(spec))
                marks = ", ".join("?" * (len(spec.columns) + 1))
                conn.executemany(f"INSERT INTO {table} VALUES ({marks})", table_rows)
        conn.close()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
