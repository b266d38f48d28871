"""Tool-use environments: function calling over a SQLite database, a search corpus and a Python sandbox.

The action is one tool call (``<tool_call>{...}</tool_call>`` or bare JSON) or a final answer;
``info["tools"]`` holds the OpenAI function schemas of the tools.
"""
