"""SQL-v0: answer questions by querying a real SQLite database through tools."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from agentgym.util.paths import cache_dir
from environments.tools.answers import grade_list, grade_value
from environments.tools.protocol import Tool, ToolCall
from environments.tools.sql_db import ReadOnlyDatabase, format_table
from environments.tools.sql_questions import Question, applicable_kinds, make_question
from environments.tools.sql_schemas import SCHEMAS, TRAIN_SCHEMAS, UNSEEN_SCHEMAS, build_database
from environments.tools.tool_env import SUBMIT, Grade, ToolEnv

SEED_BASE = {"train": 0, "valid_seen": 1_000_000, "valid_unseen": 2_000_000}
DEFAULT_COUNTS = {"train": 2000, "valid_seen": 100, "valid_unseen": 100}


@cache
def _kinds(schema: str) -> tuple[str, ...]:
    return tuple(applicable_kinds(SCHEMAS[schema]))


def format_answer(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(format_answer(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class SQLEnv(ToolEnv):
    """
    ## Description
    Text-to-SQL as a multi-turn tool-use task. Each task is a question about its own SQLite
    database, generated from a seedable schema (company, library, clinic, school, store; airline and
    hotel are held out). The agent explores the schema, runs read-only queries and submits an answer.
    Answers are what a reference query returns on that database.

    ## Observation
    The question and a tool list first; then each tool's result as text (tables as ``a | b`` rows).
    ``info["tools"]`` holds the OpenAI function schemas.

    ## Actions
    One tool call per step, ``<tool_call>{"name": "run_sql", "arguments": {"sql": "SELECT ..."}}</tool_call>``
    or bare JSON. Tools: ``list_tables()``, ``describe_table(table)``, ``run_sql(sql)`` (read-only,
    at most ``max_rows`` rows, ``time_limit_s`` per query) and ``submit_answer(answer)``; ``<answer>..</answer>``
    also submits. Malformed calls, unknown tools and bad arguments are explained (``action_valid`` False);
    SQL errors and refused writes are valid calls whose result explains the problem.

    ## Rewards
    1.0 for a correct answer (numbers within 0.01; lists compared as sets), else 0. ``score`` is the
    list F1 for list answers. ``info["answer"]`` holds the gold answer as the expert submits it (for
    IGPO's belief; never shown to the policy).

    ## Starting State
    A fresh database for the task; no calls made.

    ## Episode End
    Terminated on an answer; truncated after ``max_steps`` (20).

    ## Splits
    ``train`` (2000) and ``valid_seen`` (100) use the five training schemas with disjoint database
    seeds; ``valid_unseen`` (100) uses the airline and hotel schemas, never seen in training.
    Question types: count_filter, aggregate_filter, argmax, count_join, top_parent, sum_join,
    list_filter, distinct_parents, chain_join (where the schema has a two-hop foreign-key chain).

    ## Arguments
    ``split``, ``max_steps``, ``num_tasks``, ``max_rows`` (50), ``time_limit_s`` (2.0).

    ## Version History
    * v0: initial version.
    """

    prompt_intro = (
        "You answer a question about a SQLite database: you explore its schema and run read-only SQL queries "
        "through tools, then submit the answer with the submit_answer tool."
    )
    answer_hint = "a value, or a comma-separated list"

    def __init__(self, split: str = "train", max_steps: int | None = None, num_tasks: int | None = None,
                 max_rows: int = 50, time_limit_s: float = 2.0, render_mode: str | None = None):
        super().__init__(split=split, max_steps=max_steps, render_mode=render_mode)
        self.max_rows = int(max_rows)
        self.time_limit_s = float(time_limit_s)
        schemas = UNSEEN_SCHEMAS if split == "valid_unseen" else TRAIN_SCHEMAS
        count = int(num_tasks or DEFAULT_COUNTS[split])
        self._ids = []
        for i in range(count):
            schema = schemas[i % len(schemas)]
            kinds = _kinds(schema)
            self._ids.append(f"{schema}-{SEED_BASE[split] + i}-{kinds[(i // len(schemas)) % len(kinds)]}")
        self.db: ReadOnlyDatabase | None = None
        self.question: Question | None = None

    def task_ids(self) -> Sequence[str]:
        return self._ids

    def setup_task(self, task_id: str) -> tuple[list[Tool], list[ToolCall]]:
        schema_name, seed, kind = task_id.split("-", 2)
        schema = SCHEMAS[schema_name]
        path = build_database(schema, int(seed), cache_dir("tools", "sql") / f"{schema_name}-{seed}.sqlite")
        self.close()
        self.db = ReadOnlyDatabase(path, max_rows=self.max_rows, time_limit_s=self.time_limit_s)
        self.question = make_question(schema, self.db.conn, kind, int(seed))
        tools = [
            Tool("list_tables", "List the tables of the database with their row counts.", {}, self._list_tables),
            Tool("describe_table", "Show a table's columns, types, foreign keys and three example rows.",
                 {"table": {"type": "string", "description": "table name"}}, self._describe_table,
                 required=("table",)),
            Tool("run_sql", f"Run one read-only SQLite SELECT query; at most {self.max_rows} rows are shown.",
                 {"sql": {"type": "string", "description": "the SQL query"}}, self.db.run_sql, required=("sql",)),
        ]
        plan = [ToolCall("describe_table", {"table": t}) for t in self.question.tables]
        plan += [ToolCall("run_sql", {"sql": self.question.sql}),
                 ToolCall(SUBMIT, {"answer": format_answer(self.question.answer)})]
        return tools, plan

    def _list_tables(self) -> str:
        return "\n".join(f"{t} ({self.db.count(t)} rows)" for t in self.db.tables())

    def _describe_table(self, table: str) -> str:
        tables = self.db.tables()
        if table not in tables:
            return f"There is no table {table[:60]!r}. Tables: {', '.join(tables)}."
        names, rows, _ = self.db.query(f'SELECT * FROM "{table}" LIMIT 3')
        return (f"{self.db.create_statement(table)}\n{self.db.count(table)} rows. Example rows:\n"
                + format_table(names, rows))

    def task_text(self) -> str:
        return f"Answer using the SQLite database: {self.question.text}"

    def task_type(self) -> str:
        return self.question.kind

    def gold_answer(self) -> str:
        return format_answer(self.question.answer)

    def grade(self, answer: str) -> Grade:
        q = self.question
        score = grade_list(answer, q.answer) if q.is_list else float(grade_value(answer, q.answer))
        success = score == 1.0
        verdict = "Correct!" if success else f"Wrong. The expected answer was: {format_answer(q.answer)}."
        return Grade(success, score, float(success), f"You answered {answer[:200]!r}. {verdict}")

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
