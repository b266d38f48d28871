"""PythonTool-v0: calculation and data tasks solved by running Python in a sandbox."""

from __future__ import annotations

from collections.abc import Sequence

from environments.tools.answers import grade_value
from environments.tools.protocol import Tool, ToolCall
from environments.tools.python_tasks import TRAIN_KINDS, UNSEEN_KINDS, PythonTask
from environments.tools.sandbox import Limits
from environments.tools.sandbox_choice import choose_backend, why_unavailable
from environments.tools.tool_env import SUBMIT, Grade, ToolEnv

SEED_BASE = {"train": 0, "valid_seen": 1_000_000, "valid_unseen": 2_000_000}
DEFAULT_COUNTS = {"train": 2000, "valid_seen": 100, "valid_unseen": 100}
MAX_CODE_CHARS = 20_000


class PythonToolEnv(ToolEnv):
    """
    ## Description
    Calculation and data-analysis tasks (sums of primes, modular Fibonacci, compound interest, CSV
    and JSON aggregation, ...) whose answers need a program. The agent runs Python with the
    ``run_python`` tool in a sandbox and submits the answer. Each run starts from a fresh working
    directory holding only the task's data files (nothing persists between runs).

    ## Observation
    The task and tool list first; then the program's exit code, stdout and stderr, and which limit
    stopped it if one did. ``info["tools"]`` holds the OpenAI function schemas.

    ## Actions
    One tool call per step: ``run_python(code)`` or ``submit_answer(answer)``; ``<answer>...</answer>``
    also submits. Malformed calls are explained (``action_valid`` False); a program that fails or is
    stopped is a valid call whose result says why.

    ## Rewards
    1.0 for a correct answer (integers exact, decimals within 0.01, names by normalised text), else 0.

    ## Starting State
    The task; no programs run.

    ## Episode End
    Terminated on an answer; truncated after ``max_steps`` (10).

    ## Splits
    ``train`` (2000) and ``valid_seen`` (100): seven task types (primes, fibonacci, divisible,
    compound, revenue, top_product, median) with disjoint seeds; ``valid_unseen`` (100): four other
    types (collatz, digit_sum, team_scores over JSON, distinct_words over text).

    ## Sandbox
    Docker (``--network none``, read-only root, memory/CPU/pids limits, image from
    ``sandbox.Dockerfile``) when an engine is reachable, else bubblewrap namespaces (no network, only
    ``/usr`` visible read-only, tmpfs working dir, fresh uid, no nested user namespaces) with prlimit limits
    and, where one can be made, a memory cgroup that holds the whole run (all its processes and the tmpfs
    files it writes) to ``memory_mb``. The choice is logged;
    ``sandbox="docker"|"bwrap"`` or ``$AGENTGYM_SANDBOX`` forces one. Without either, ``reset`` raises
    (it never falls back to running code unsandboxed, nor plays episodes in which every run is refused).

    ## Arguments
    ``split``, ``max_steps``, ``num_tasks``, ``sandbox`` ("auto"), ``timeout_s`` (5), ``memory_mb`` (256),
    ``max_procs`` (32).

    ## Version History
    * v0: initial version.
    """

    default_max_steps = 10
    answer_hint = "a number or a name"

    def __init__(self, split: str = "train", max_steps: int | None = None, num_tasks: int | None = None,
                 sandbox: str | None = None, timeout_s: float = 5.0, memory_mb: int = 256, max_procs: int = 32,
                 render_mode: str | None = None):
        super().__init__(split=split, max_steps=max_steps, render_mode=render_mode)
        if sandbox not in (None, "auto", "docker", "bwrap"):
            raise ValueError(f"sandbox must be 'auto', 'docker' or 'bwrap', got {sandbox!r}")
        self.sandbox = sandbox
        self.limits = Limits(timeout_s=float(timeout_s), memory_mb=int(memory_mb), max_procs=int(max_procs))
        self.kinds = UNSEEN_KINDS if split == "valid_unseen" else TRAIN_KINDS
        names = list(self.kinds)
        count = int(num_tasks or DEFAULT_COUNTS[split])
        self._ids = [f"{names[i % len(names)]}-{SEED_BASE[split] + i}" for i in range(count)]
        self.task: PythonTask | None = None
        self.answer = ""

    def task_ids(self) -> Sequence[str]:
        return self._ids

    def setup_task(self, task_id: str) -> tuple[list[Tool], list[ToolCall]]:
        if choose_backend(self.sandbox) is None:  # an infrastructure fault: never episodes of refusals
            raise RuntimeError(f"PythonTool-v0 cannot run code on this machine: no sandbox works "
                               f"({why_unavailable(self.sandbox)}). Install bubblewrap (apt install bubblewrap) "
                               "or start a Docker engine; sandbox='bwrap'|'docker' forces one.")
        kind, seed = task_id.rsplit("-", 1)
        self.task = self.kinds[kind](int(seed))
        self.answer = self.task.answer()
        tool = Tool("run_python", f"Run a Python 3 program in a sandbox (no network, {self.limits.timeout_s:g} s, "
                                  f"{self.limits.memory_mb} MB); returns its stdout and stderr. Print what you need.",
                    {"code": {"type": "string", "description": "the complete program"}}, self._run_python,
                    required=("code",))
        plan = [ToolCall("run_python", {"code": self.task.reference_code()}),
                ToolCall(SUBMIT, {"answer": self.answer})]
        return [tool], plan

    def _run_python(self, code: str) -> str:
        if len(code) > MAX_CODE_CHARS:
            return f"The program is {len(code)} characters long; the limit is {MAX_CODE_CHARS}. Nothing was run."
        backend = choose_backend(self.sandbox)
        if backend is None:
            return "No sandbox (Docker or bubblewrap) is available on this machine, so the code was not run."
        return backend.run(code, self.task.files, self.limits).describe(self.limits)

    def task_text(self) -> str:
        return self.task.text

    def task_type(self) -> str:
        return self.task.kind

    def grade(self, answer: str) -> Grade:
        success = grade_value(answer, self.answer)
        verdict = "Correct!" if success else f"Wrong. The expected answer was: {self.answer}."
        return Grade(success, float(success), float(success), f"You answered {answer[:200]!r}. {verdict}")
