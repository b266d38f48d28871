"""``ToolEnv``: the common loop of the tool-use environments.

A family supplies its tools, the task text, an expert plan (a list of tool calls ending in
``submit_answer``) and a grader; this class parses actions, validates arguments against the
schemas, runs tools, ends the episode on a final answer and fills ``info`` (including
``info["tools"]``, the OpenAI function schemas).

Tools here only read (a database, a corpus) or run code in a fresh sandbox, so the underlying
state is the set of distinct calls made: the ``state_key`` is that set, normalised and sorted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentgym.core.env import Outcome, TextEnv
from environments.tools.protocol import (
    Tool,
    ToolCall,
    format_call,
    normalise_call,
    parse_action,
    validate_arguments,
)

MAX_OBSERVATION_CHARS = 6000
SUBMIT = "submit_answer"


@dataclass(frozen=True)
class Grade:
    success: bool
    score: float
    reward: float
    feedback: str


class ToolEnv(TextEnv):
    """Base of SQL-v0, SearchQA-v0 and PythonTool-v0 (see their docstrings for the contract)."""

    has_admissible_actions = False
    default_max_steps = 20
    answer_hint = "a short text"
    prompt_intro = (
        "You solve the task by calling tools, one call per step, reading each result, and end by submitting "
        "your answer with the submit_answer tool."
    )

    def __init__(self, split: str = "train", max_steps: int | None = None, render_mode: str | None = None):
        super().__init__(split=split, max_steps=max_steps, render_mode=render_mode)
        self._tools: dict[str, Tool] = {}
        self._calls_made: set[str] = set()
        self._plan: list[ToolCall] = []

    # ---- to implement by a family --------------------------------------------------------------
    def setup_task(self, task_id: str) -> tuple[list[Tool], list[ToolCall]]:
        """Prepare ``task_id``; return its tools (without submit_answer) and the expert's calls."""
        raise NotImplementedError

    def task_text(self) -> str:
        raise NotImplementedError

    def task_type(self) -> str:
        raise NotImplementedError

    def grade(self, answer: str) -> Grade:
        raise NotImplementedError

    def gold_answer(self) -> str | None:
        """The loaded task's reference answer as the expert submits it (``info["answer"]``); None if unknown."""
        return None

    # ---- TextEnv hooks -------------------------------------------------------------------------
    def load_task(self, task_id: str) -> None:
        tools, plan = self.setup_task(task_id)
        submit = Tool(SUBMIT, f"Give the final answer ({self.answer_hint}) and end the episode.",
                      {"answer": {"type": "string", "description": "the final answer"}},
                      run=lambda answer: answer, required=("answer",))
        self._tools = {tool.name: tool for tool in [*tools, submit]}
        self._plan = list(plan)
        self._calls_made = set()

    def first_observation(self) -> str:
        listing = "\n".join(f"- {t.name}({', '.join(t.parameters)}): {t.description}" for t in self._tools.values())
        return (f"{self.task_text()}\n\nTools:\n{listing}\n\n"
                "Call one tool per step as <tool_call>{\"name\": \"...\", \"arguments\": {...}}</tool_call>. "
                "Finish with submit_answer (or <answer>...</answer>).")

    def apply(self, action: str) -> Outcome:
        parsed = parse_action(action)
        if parsed.answer is not None:
            return self._finish(parsed.answer)
        if parsed.call is None:
            return Outcome(parsed.note + str(parsed.problem), action_valid=False)
        call = parsed.call
        tool = self._tools.get(call.name)
        if tool is None:
            return Outcome(f"{parsed.note}There is no tool {call.name[:60]!r}. Available tools: "
                           f"{', '.join(self._tools)}.", action_valid=False)
        arguments, problem = validate_arguments(tool, call.arguments)
        if problem:
            return Outcome(parsed.note + problem, action_valid=False)
        if tool.name == SUBMIT:
            return self._finish(arguments["answer"])
        result = self._run_tool(tool, arguments)
        self._calls_made.add(normalise_call(ToolCall(tool.name, arguments)))
        return Outcome(parsed.note + _clip(result))

    def _run_tool(self, tool: Tool, arguments: dict[str, Any]) -> str:
        try:
            return tool.run(**arguments)
        except Exception as exc:  # noqa: BLE001 - a tool failure is reported to the agent, never raised
            return f"The tool {tool.name} failed: {type(exc).__name__}: {exc}"

    def _finish(self, answer: str) -> Outcome:
        grade = self.grade(answer)
        return Outcome(grade.feedback, reward=grade.reward, terminated=True, success=grade.success,
                       score=grade.score)

    def state_info(self) -> dict[str, Any]:
        remaining = [c for c in self._plan if c.name == SUBMIT or normalise_call(c) not in self._calls_made]
        return {
            "task": self.task_text(),
            "task_type": self.task_type(),
            "admissible_actions": None,
            "state_key": " | ".join(sorted(self._calls_made)) or "no tool calls yet",
            "expert_action": format_call(remaining[0].name, **remaining[0].arguments) if remaining else None,
            "expert_steps_left": len(remaining) if remaining else None,
            "answer": self.gold_answer(),
            "tools": [tool.schema() for tool in self._tools.values()],
        }

    def expert_actions(self) -> list[str]:
        """The expert's whole trajectory for the loaded task (for SFT data)."""
        return [format_call(c.name, **c.arguments) for c in self._plan]


def _clip(text: str, limit: int = MAX_OBSERVATION_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... [output cut: {len(text) - limit} more characters]"
