"""Tool-call parsing, argument validation, state-key normalisation and answer grading."""

import json

import pytest

from environments.tools.answers import exact_match, grade_list, grade_value, split_list, token_f1
from environments.tools.protocol import (
    Tool,
    ToolCall,
    format_call,
    normalise_call,
    parse_action,
    validate_arguments,
)

ECHO = Tool("echo", "Echo text.", {"text": {"type": "string"}, "times": {"type": "integer"}}, run=lambda **k: "",
            required=("text",))


def test_qwen_hermes_tool_call_with_reasoning_around_it():
    call = '{"name": "run_sql", "arguments": {"sql": "SELECT 1"}}'
    parsed = parse_action(f"I will look.\n<tool_call>\n{call}\n</tool_call>")
    assert parsed.call == ToolCall("run_sql", {"sql": "SELECT 1"})
    assert parsed.problem is None and parsed.answer is None


def test_bare_json_fenced_json_and_openai_string_arguments():
    assert parse_action('{"name": "search", "arguments": {"query": "x"}}').call == ToolCall("search", {"query": "x"})
    assert parse_action('```json\n{"name": "open", "arguments": {"doc_id": "d1"}}\n```').call == ToolCall(
        "open", {"doc_id": "d1"})
    openai = {"type": "function", "function": {"name": "open", "arguments": json.dumps({"doc_id": "d2"})}}
    assert parse_action(json.dumps(openai)).call == ToolCall("open", {"doc_id": "d2"})


def test_answer_tag_and_format_call_round_trip():
    assert parse_action("so <answer> 42 </answer>").answer == "42"
    action = format_call("run_sql", sql="SELECT 'ü'")
    assert parse_action(action).call == ToolCall("run_sql", {"sql": "SELECT 'ü'"})


@pytest.mark.parametrize("text, fragment", [
    ("hello there", "No tool call found"),
    ("<tool_call>{not json}</tool_call>", "not valid JSON"),
    ('<tool_call>["run_sql"]</tool_call>', "JSON object"),
    ('<tool_call>{"arguments": {}}</tool_call>', "needs a \"name\""),
    ('<tool_call>{"name": "x", "arguments": 3}</tool_call>', "must be a JSON object"),
    ('{"name": "x", "arguments": "{broken"}', "not valid JSON"),
    # more than 4,300 digits: Python's int-conversion limit raises ValueError, not JSONDecodeError
    ('<tool_call>{"name": "submit_answer", "arguments": {"answer": ' + "9" * 4301 + "}}</tool_call>", "not valid JSON"),
    ('{"name": "x", "arguments": "{\\"a\\": ' + "9" * 4301 + '}"}', "not valid JSON"),
])
def test_malformed_calls_are_explained(text, fragment):
    parsed = parse_action(text)
    assert parsed.call is None and fragment in parsed.problem


def test_two_calls_run_the_first_and_say_so():
    text = format_call("a") + format_call("b")
    parsed = parse_action(text)
    assert parsed.call.name == "a" and "found 2" in parsed.note


def test_validate_arguments():
    assert validate_arguments(ECHO, {"text": "hi"}) == ({"text": "hi"}, None)
    assert validate_arguments(ECHO, {"text": 7, "times": 2.0}) == ({"text": "7", "times": 2}, None)
    assert "needs the argument" in validate_arguments(ECHO, {})[1]
    assert "has no argument" in validate_arguments(ECHO, {"text": "a", "loud": True})[1]
    assert "must be a integer" in validate_arguments(ECHO, {"text": "a", "times": "2"})[1]
    assert "must be a integer" in validate_arguments(ECHO, {"text": "a", "times": True})[1]


def test_schema_is_openai_function_format():
    schema = ECHO.schema()
    assert schema["type"] == "function"
    assert schema["function"]["name"] == "echo"
    assert schema["function"]["parameters"]["required"] == ["text"]
    assert set(schema["function"]["parameters"]["properties"]) == {"text", "times"}


def test_normalise_call_ignores_key_order_whitespace_and_sql_case():
    a = normalise_call(ToolCall("run_sql", {"sql": "SELECT  name\nFROM t;"}))
    b = normalise_call(ToolCall("run_sql", {"sql": "select name from t"}))
    assert a == b
    code_a = normalise_call(ToolCall("run_python", {"code": "x = 1   \n\nprint(x)\n"}))
    code_b = normalise_call(ToolCall("run_python", {"code": "x = 1\nprint(x)"}))
    assert code_a == code_b
    assert code_a != normalise_call(ToolCall("run_python", {"code": "x = 1\n    print(x)"}))


def test_exact_match_and_f1_hand_worked():
    assert exact_match("The Vorin Labs.", "vorin labs")
    assert not exact_match("Vorin", "Vorin Labs")
    # prediction "vorin labs ltd" vs "vorin labs": 2 common, precision 2/3, recall 1 -> F1 0.8
    assert token_f1("Vorin Labs Ltd", "Vorin Labs") == pytest.approx(0.8)
    assert token_f1("x", "y") == 0.0


def test_value_and_list_grading():
    assert grade_value("1,234.50", 1234.5)
    assert grade_value("The total is 17.", 17)
    assert not grade_value("18", 17)
    assert not grade_value("170000001", 170000000)  # integers must be exact
    assert grade_value('["Brannoch"]', "Brannoch")
    assert split_list('["a", "b"]') == ["a", "b"]
    assert split_list("a, b;c\nd") == ["a", "b", "c", "d"]
    assert grade_list("b, a", ["a", "b"]) == 1.0
    # one right of two answered, two expected: precision 1/2, recall 1/2 -> F1 0.5
    assert grade_list("a, z", ["a", "b"]) == pytest.approx(0.5)
