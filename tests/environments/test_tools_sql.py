"""SQL-v0: generated databases, questions whose answers come from the data, read-only tools, experts."""

import hashlib
import json

import pytest

import agentgym
from environments.tools.protocol import format_call
from environments.tools.sql_db import ReadOnlyDatabase
from environments.tools.sql_questions import make_question
from environments.tools.sql_schemas import (
    SCHEMAS,
    TRAIN_SCHEMAS,
    UNSEEN_SCHEMAS,
    build_database,
    generate_rows,
)


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("AGENTGYM_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def _run_expert(env, task_id):
    _, info = env.reset(options={"task_id": task_id})
    while True:
        _, reward, terminated, truncated, info = env.step(info["expert_action"])
        if terminated or truncated:
            return reward, info


def test_check_env_valid_unseen():
    agentgym.check_env(agentgym.make("agentgym/SQL-v0", split="valid_unseen"), n_random_actions=300)


@pytest.mark.parametrize("split, n", [("train", 25), ("valid_seen", 10), ("valid_unseen", 10)])
def test_expert_solves_sample(split, n):
    env = agentgym.make("agentgym/SQL-v0", split=split)
    for task_id in env.unwrapped.task_ids()[:n]:
        reward, info = _run_expert(env, task_id)
        assert info["success"] and reward == 1.0, task_id


@pytest.mark.slow
@pytest.mark.parametrize("split", agentgym.SPLITS)
def test_expert_solves_200_tasks(split):
    env = agentgym.make("agentgym/SQL-v0", split=split)
    ids = env.unwrapped.task_ids()[:200]
    assert all(_run_expert(env, t)[1]["success"] for t in ids)


def test_splits_disjoint_and_unseen_schemas_never_in_training():
    ids = {s: set(agentgym.make("agentgym/SQL-v0", split=s).unwrapped.task_ids()) for s in agentgym.SPLITS}
    assert not ids["train"] & ids["valid_seen"] and not ids["train"] & ids["valid_unseen"]
    assert {t.split("-")[0] for t in ids["train"] | ids["valid_seen"]} == set(TRAIN_SCHEMAS)
    assert {t.split("-")[0] for t in ids["valid_unseen"]} == set(UNSEEN_SCHEMAS)


def test_count_question_matches_a_count_over_the_generated_rows(tmp_path):
    """The answer comes from the database: recount the rows in Python, independently of SQL."""
    schema = SCHEMAS["company"]
    path = build_database(schema, 5, tmp_path / "company.sqlite")
    db = ReadOnlyDatabase(path)
    question = make_question(schema, db.conn, "count_filter", 5)
    table, rest = question.sql.split("FROM ")[1].split(" WHERE ")
    column, value = rest.split(" = ")
    spec = schema.table(table)
    index = 1 + [c.name for c in spec.columns].index(column)
    rows = generate_rows(schema, 5)[table]
    assert question.answer == sum(1 for row in rows if row[index] == value.strip("'"))


def test_writes_are_refused_and_database_unchanged(tmp_path):
    env = agentgym.make("agentgym/SQL-v0", split="train")
    _, info = env.reset(options={"task_id": env.unwrapped.task_ids()[0]})
    path = env.unwrapped.db.path
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    writes = ["DELETE FROM employees", "UPDATE employees SET salary = 0", "INSERT INTO departments VALUES (99, 'x', "
              "'y', 1, 1)", "DROP TABLE employees", "CREATE TABLE t (x)", f"ATTACH DATABASE '{tmp_path}/x.db' AS x",
              "PRAGMA writable_schema = ON", "SELECT 1; DROP TABLE employees", "VACUUM"]
    for sql in writes:
        obs, _, terminated, _, info = env.step(format_call("run_sql", sql=sql))
        assert ("Refused" in obs or "one statement" in obs) and not terminated, (sql, obs)
        assert info["action_valid"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert not (tmp_path / "x.db").exists()
    obs, *_ = env.step(format_call("run_sql", sql="SELECT COUNT(*) FROM employees"))
    assert obs.startswith("1 row")


def test_time_limit_and_row_limit():
    env = agentgym.make("agentgym/SQL-v0", split="train", time_limit_s=0.2, max_rows=5)
    env.reset(options={"task_id": env.unwrapped.task_ids()[0]})
    slow = "SELECT COUNT(*) FROM employees a, employees b, employees c, employees d, employees e"
    obs, *_ = env.step(format_call("run_sql", sql=slow))
    assert "time limit" in obs
    obs, *_ = env.step(format_call("run_sql", sql="SELECT id FROM employees"))
    assert obs.startswith("first 5 rows shown") and len(obs.splitlines()) == 7


def test_huge_values_are_refused_by_sqlite_and_large_ones_cut_before_formatting():
    """zeroblob(500000000) x 2 once took 40 s and 3 GB (built, fetched, str()-ed whole) past the 2 s limit."""
    import resource
    import time

    env = agentgym.make("agentgym/SQL-v0", split="train")
    env.reset(options={"task_id": env.unwrapped.task_ids()[0]})
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    obs, *_ = env.step(format_call("run_sql", sql="SELECT zeroblob(500000000) a, zeroblob(500000000) b"))
    assert "larger than 1,000,000 bytes" in obs and time.perf_counter() - start < 1.0
    obs, *_ = env.step(format_call("run_sql", sql="SELECT zeroblob(900000) a, hex(zeroblob(400000)) b"))
    cells = obs.splitlines()[2].split(" | ")
    assert len(cells) == 2 and all(len(c) == 80 and c.endswith("...") for c in cells)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 200_000  # KiB: no GB-sized strings


def test_whole_result_is_bounded_in_bytes_and_time():
    """50 rows x 40 randomblob(999999), each value under the 1 MB cap, once took 41 s and 2 GB outside the limit."""
    import resource
    import time

    env = agentgym.make("agentgym/SQL-v0", split="train")
    env.reset(options={"task_id": env.unwrapped.task_ids()[0]})
    rows = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 50) "
    blobs = ", ".join(f"randomblob(999999) c{i}" for i in range(40))
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # the plain result passes the whole-result bound; the sorted one makes sorter records SQLite refuses
    for sql in (f"{rows}SELECT {blobs} FROM r", f"{rows}SELECT {blobs} FROM r ORDER BY c0"):
        start = time.perf_counter()
        obs, _, terminated, _, info = env.step(format_call("run_sql", sql=sql))
        assert time.perf_counter() - start < 2.5, sql  # the 2 s limit and one row past it
        assert any(reason in obs for reason in ("larger than 2,000,000", "larger than 1,000,000", "time limit")), obs
        assert info["action_valid"] and not terminated
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 300_000  # KiB
    too_wide = "SELECT " + ", ".join("1" for _ in range(101))
    obs, *_ = env.step(format_call("run_sql", sql=too_wide))
    assert "too many columns" in obs
    obs, *_ = env.step(format_call("run_sql", sql="SELECT id, name FROM employees LIMIT 3"))
    assert obs.startswith("3 rows:")  # honest queries are untouched


def test_bad_calls_are_explained_and_episode_goes_on():
    env = agentgym.make("agentgym/SQL-v0", split="train")
    env.reset(options={"task_id": env.unwrapped.task_ids()[1]})
    for action, fragment in [("SELECT 1", "No tool call"), (format_call("drop_all"), "no tool"),
                             (format_call("run_sql", query="x"), "no argument"), (format_call("run_sql"), "needs"),
                             ('<tool_call>{"name": "run_sql", "arguments": {"sql": 1</tool_call>', "not valid JSON")]:
        obs, reward, terminated, truncated, info = env.step(action)
        assert fragment in obs and not info["action_valid"] and not terminated and reward == 0.0
    obs, *_ = env.step(format_call("run_sql", sql="SELEC nonsense"))
    assert obs.startswith("SQL error")


def test_state_key_is_the_normalised_set_of_calls():
    env = agentgym.make("agentgym/SQL-v0", split="train")
    task = {"task_id": env.unwrapped.task_ids()[2]}
    first, second = format_call("list_tables"), format_call("run_sql", sql="SELECT  1;")
    _, info = env.reset(options=task)
    start = info["state_key"]
    env.step(first)
    env.step("garbage")
    _, _, _, _, info_a = env.step(second)
    env.reset(options=task)
    env.step('{"name": "run_sql", "arguments": {"sql": "select 1"}}')
    _, _, _, _, info_b = env.step(first)
    assert info_a["state_key"] == info_b["state_key"] != start
    _, _, _, _, info_c = env.step(first)  # repeating a call reveals nothing new
    assert info_c["state_key"] == info_b["state_key"]


def test_info_tools_and_wrong_answer():
    env = agentgym.make("agentgym/SQL-v0", split="valid_seen")
    _, info = env.reset(seed=0)
    names = [t["function"]["name"] for t in info["tools"]]
    assert names == ["list_tables", "describe_table", "run_sql", "submit_answer"]
    json.dumps(info["tools"])
    obs, reward, terminated, _, info = env.step("<answer>definitely not it</answer>")
    assert terminated and reward == 0.0 and not info["success"] and "expected answer" in obs
