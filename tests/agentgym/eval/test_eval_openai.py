"""An evaluation through ``openai:<model>@<base_url>`` against a real local HTTP server.

The server is a minimal OpenAI-compatible ``/v1/chat/completions`` endpoint whose "model" walks
towards the goal using only the prompt text. The same function run in-process must give the same
report, so the HTTP path (client, request format, response parsing) changes nothing.
"""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agentgym.core.policy import Generation
from agentgym.eval import EvalSettings, run_evaluation

ENV = "agentgym/FrozenLake-v0"
_GOAL = re.compile(r"The goal is ([a-z0-9 ]+)\.")


def walk_towards_goal(messages):
    """A prompt-only "model": step towards the goal on ice, else any non-hole direction."""
    now = messages[-1]["content"].split("Now: ")[-1]
    m = _GOAL.search(now)
    if not m:
        return "<action>north</action>"
    wanted = [d for d in ("north", "south", "east", "west") if d in m.group(1)]
    safe = [d for d in ("north", "south", "east", "west") if re.search(rf"{d.capitalize()}: (ice|the goal)", now)]
    choice = next((d for d in wanted if d in safe), safe[0] if safe else "north")
    return f"I go {choice}.\n<action>{choice}</action>"


class PromptOnly:
    def generate(self, prompts, sampling, infos=None):
        return [Generation(text=walk_towards_goal(p)) for p in prompts]


class _Handler(BaseHTTPRequestHandler):
    requests_seen: list = []

    def log_message(self, *args):  # keep test output clean
        pass

    def _send(self, payload, status=200):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._send({"object": "list", "data": [{"id": "walker", "object": "model", "owned_by": "test"}]})

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if not self.path.endswith("/chat/completions"):
            return self._send({"error": {"message": f"unknown path {self.path}"}}, status=404)
        self.requests_seen.append(request)
        text = walk_towards_goal(request["messages"])
        choices = [{"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop",
                    "logprobs": None} for i in range(int(request.get("n") or 1))]
        self._send({"id": "cmpl-1", "object": "chat.completion", "created": 0, "model": request["model"],
                    "choices": choices, "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})


@pytest.fixture
def server():
    _Handler.requests_seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", _Handler.requests_seen
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_report_from_an_openai_compatible_endpoint(tmp_path, server):
    policies = pytest.importorskip("policies")
    if not hasattr(policies, "from_spec"):
        pytest.skip("policies.from_spec (with the openai: backend) has not landed yet")
    base_url, seen = server
    spec = f"openai:walker@{base_url}"
    settings = EvalSettings(env=ENV, split="valid_seen", episodes=8, batch_size=4, pool_workers=1)
    remote = run_evaluation(policies.from_spec(spec), settings, tmp_path / "http", spec, progress=False)
    local = run_evaluation(PromptOnly(), settings, tmp_path / "local", spec, progress=False)
    assert remote == local and remote["complete"]
    assert 0 < remote["metrics"]["success_rate"]["mean"]
    total_steps = round(remote["metrics"]["steps"] * remote["metrics"]["episodes"])
    assert seen and all(r["model"] == "walker" for r in seen)
    assert sum(int(r.get("n") or 1) for r in seen) == total_steps  # every step's prompt went over HTTP once
    first = json.loads((tmp_path / "http" / "episodes.jsonl").read_text().splitlines()[0])
    assert first["steps"][0]["response"].startswith("I go ")
