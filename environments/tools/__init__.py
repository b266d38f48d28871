"""Tool-use environments: function calling over a SQLite database, a search corpus and a Python sandbox.

The action is one tool call (``<tool_call>{...}</tool_call>`` or bare JSON) or a final answer;
``info["tools"]`` holds the OpenAI function schemas of the tools.
"""

from agentgym.registry import register

register("agentgym/SQL-v0", entry_point="environments.tools.sql_env:SQLEnv")
register("agentgym/SearchQA-v0", entry_point="environments.tools.searchqa_env:SearchQAEnv")
register("agentgym/PythonTool-v0", entry_point="environments.tools.python_env:PythonToolEnv")
