"""The tool-call protocol shared by the tool-use environments.

Tools are described as OpenAI function schemas (what ``info["tools"]`` holds and what chat
templates such as Qwen's and Hermes' render). An action is either one tool call, written as
``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` or as bare JSON, or a final answer
``<answer>...</answer>``. Parsing never raises: every problem becomes an explanation the agent reads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

_TOOL_CALL_RE = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL | re.IGNORECASE)
_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_FENCE_RE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "array": (list,), "object": (dict,),
}


@dataclass(frozen=True)
class Tool:
    """One callable tool: its schema fields and the function that runs it (returns text)."""

    name: str
    description: str
    parameters: dict[str, dict[str, Any]]
    run: Callable[..., str]
    required: tuple[str, ...] = ()

    def schema(self) -> dict[str, Any]:
        """The OpenAI function-calling schema of this tool."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": {
                    "type": "object",
                    "properties": self.parameters,
                    "required": list(self.required),
                    "additionalProperties": False,
                },
            },
        }


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Parsed:
    """What an action said: a call, a final answer, or a problem to explain (exactly one is set)."""

    call: ToolCall | None = None
    answer: str | None = None
    problem: str | None = None
    note: str = ""


def format_call(name: str, **arguments: Any) -> str:
    """The canonical action text for a tool call (what experts emit)."""
    return "<tool_call>" + json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False) + "</tool_call>"


def parse_action(text: str) -> Parsed:
    """Read one action: ``<tool_call>`` JSON, bare JSON, or ``<answer>``."""
    blocks = _TOOL_CALL_RE.findall(text)
    if blocks:
        note = f"Only one tool call per step: found {len(blocks)}, ran the first. " if len(blocks) > 1 else ""
        parsed = _parse_call_json(blocks[0].strip())
        return Parsed(call=parsed.call, problem=parsed.problem, note=note)
    answers = _ANSWER_RE.findall(text)
    if answers:
        return Parsed(answer=answers[-1].strip())
    stripped = text.strip()
    fenced = _FENCE_RE.match(stripped)
    if fenced:
        stripped = fenced.group(1)
    if stripped.startswith("{"):
        return _parse_call_json(stripped)
    return Parsed(problem="No tool call found. Call a tool as <tool_call>{\"name\": ..., \"arguments\": {...}}"
                          "</tool_call> or give the final answer as <answer>...</answer>.")


def _parse_call_json(blob: str) -> Parsed:
    try:
        data = json.loads(blob)
    except (ValueError, RecursionError) as exc:  # ValueError: JSONDecodeError, and a number over 4,300 digits
        return Parsed(problem=f"The tool call is not valid JSON ({_short(str(exc))}). "
                              "Write it as {\"name\": \"tool\", \"arguments\": {...}}.")
    if not isinstance(data, dict):
        return Parsed(problem="The tool call must be a JSON object with \"name\" and \"arguments\".")
    if isinstance(data.get("function"), dict):  # OpenAI message format {"type": "function", "function": {...}}
        data = data["function"]
    name = data.get("name")
    if not isinstance(name, str) or not name:
        return Parsed(problem="The tool call needs a \"name\" string naming the tool.")
    arguments = data.get("arguments", data.get("parameters", {}))
    if isinstance(arguments, str):  # OpenAI encodes arguments as a JSON string
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except (ValueError, RecursionError):
            return Parsed(problem=f"The arguments of {_short(name)!r} are a string that is not valid JSON.")
    if not isinstance(arguments, dict):
        return Parsed(problem=f"The arguments of {_short(name)!r} must be a JSON object.")
    return Parsed(call=ToolCall(name, arguments))


def validate_arguments(tool: Tool, arguments: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Check ``arguments`` against the tool's schema; returns (cleaned arguments, problem or None).

    Numbers given where a string is expected are accepted as their text, since models often
    answer ``{"answer": 42}``; lists given for a string become JSON text.
    """
    unknown = sorted(set(arguments) - set(tool.parameters))
    if unknown:
        return {}, (f"{tool.name} has no argument(s) {', '.join(map(repr, unknown))}; "
                    f"it takes {', '.join(tool.parameters) or 'no arguments'}.")
    missing = [name for name in tool.required if name not in arguments]
    if missing:
        return {}, f"{tool.name} needs the argument(s) {', '.join(map(repr, missing))}."
    cleaned = {}
    for name, value in arguments.items():
        expected = tool.parameters[name].get("type", "string")
        value = _coerce(value, expected)
        if not isinstance(value, _JSON_TYPES.get(expected, (object,))) or (
                expected in ("integer", "number") and isinstance(value, bool)):
            return {}, f"Argument {name!r} of {tool.name} must be a {expected}, got {type(value).__name__}."
        cleaned[name] = value
    return cleaned, None


def _coerce(value: Any, expected: str) -> Any:
    if expected == "string" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if expected == "string" and isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    if expected == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def normalise_call(call: ToolCall) -> str:
    """Canonical text of a call for state keys: sorted keys, collapsed whitespace, case-folded SQL/queries."""
    if call.name == "run_python":
        code = str(call.arguments.get("code", ""))
        lines = [line.rstrip() for line in code.strip().splitlines() if line.strip()]
        return f"run_python({json.dumps(chr(10).join(lines), ensure_ascii=False)})"
    arguments = {k: (" ".join(v.split()) if isinstance(v, str) else v) for k, v in sorted(call.arguments.items())}
    if call.name in ("run_sql", "search"):
        arguments = {k: (v.lower().rstrip("; ") if isinstance(v, str) else v) for k, v in arguments.items()}
    return f"{call.name}({json.dumps(arguments, sort_keys=True, ensure_ascii=False)})"


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
