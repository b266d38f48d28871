"""Every command's bad arguments end in one line and a non-zero exit, never a traceback (issue 45 item 13),
and the helper behind it (``agentgym.util.cli_errors``) by hand."""

import os
import socket
import subprocess
import sys

import pytest

from agentgym.util.cli_errors import check_model_path, describe, looks_like_a_path, one_line_errors

LAKE = "agentgym/FrozenLake-v0"
DEAD = "http://127.0.0.1:9"  # the discard port: nothing listens there

# (command, arguments, what its one line says); {run} a fresh run folder, {model} a tiny model folder,
# {empty} a folder without a model, {port} a port in use, {dead} a URL nobody answers
CASES = {
    "train unknown env": ("agentgym.train", ["--env", "agentgym/NoSuch-v0", "--run-dir", "{run}"], "Did you mean"),
    "train group-size 0": ("agentgym.train", ["--group-size", "0", "--run-dir", "{run}"], "group_size must be >= 1"),
    "train lr nan": ("agentgym.train", ["--lr", "nan", "--run-dir", "{run}"], "need lr > 0"),
    "train temperature nan": ("agentgym.train", ["--temperature", "nan", "--run-dir", "{run}"], "temperature must be"),
    "train missing model": ("agentgym.train", ["--model", "/nonexistent/model", "--run-dir", "{run}"],
                            "no such folder"),
    "train folder without a model": ("agentgym.train", ["--model", "{empty}", "--run-dir", "{run}"],
                                     "holds no model"),
    "train max-staleness -1": ("agentgym.train", ["--max-staleness", "-1", "--run-dir", "{run}"], "max_staleness >= 0"),
    "train iterations -1": ("agentgym.train", ["--iterations", "-1", "--run-dir", "{run}"], "iterations must be >= 0"),
    "train resume and overwrite": ("agentgym.train", ["--resume", "true", "--overwrite", "true", "--run-dir", "{run}"],
                                   "contradict"),
    "train env-kwargs YAML error": ("agentgym.train", ["--env-kwargs", "{a: [}", "--run-dir", "{run}"],
                                    "not valid YAML"),
    "train dead rollout server": ("agentgym.train", ["--engine", "server", "--engine-url", "{dead}", "--model", "{model}",
                                                     "--run-dir", "{run}"], "cannot reach the rollout server"),
    "eval unknown env": ("agentgym.eval", ["--env", "agentgym/NoSuch-v0", "--policy", "expert"], "Did you mean"),
    "eval missing module": ("agentgym.eval", ["--env", "nosuchpkg_45:Lake-v0", "--policy", "expert"],
                            "No module named 'nosuchpkg_45'"),
    "eval folder without a model": ("agentgym.eval", ["--policy", "{empty}"], "holds no model"),
    "eval env-kwargs YAML error": ("agentgym.eval", ["--policy", "expert", "--env-kwargs", "{a: [}"], "not valid YAML"),
    "eval unwritable out": ("agentgym.eval", ["--policy", "expert", "--out", "/proc/nope/out"], "--out '/proc/nope/out'"),
    "eval openai without @URL": ("agentgym.eval", ["--policy", "openai:gpt"], "openai:MODEL@BASE_URL"),
    "eval unreachable server": ("agentgym.eval", ["--policy", "openai:m@{dead}", "--episodes", "1"], "unavailable"),
    "eval missing replay file": ("agentgym.eval", ["--policy", "replay:/nonexistent.jsonl"], "No such file"),
    "eval heuristic without one": ("agentgym.eval", ["--env", "agentgym/PythonTool-v0", "--policy", "heuristic"],
                                   "no heuristic baseline"),
    "eval compare missing paths": ("agentgym.eval", ["compare", "/nonexistent1", "/nonexistent2"], "/nonexistent1"),
    "eval temperature nan": ("agentgym.eval", ["--policy", "expert", "--temperature", "nan"], "temperature must be"),
    "eval resume and overwrite": ("agentgym.eval", ["--policy", "expert", "--resume", "--overwrite"], "contradict"),
    "sft unknown env": ("agentgym.sft", ["--env", "agentgym/NoSuch-v0"], "Did you mean"),
    "sft steps -1": ("agentgym.sft", ["--steps", "-1"], "steps must be >= 1"),
    "sft lr nan": ("agentgym.sft", ["--lr", "nan"], "need lr > 0"),
    "sft missing model": ("agentgym.sft", ["--model", "/nonexistent/model"], "no such folder"),
    "sft env-kwargs YAML error": ("agentgym.sft", ["--env-kwargs", "{a: [}"], "not valid YAML"),
    "envs missing module": ("agentgym.envs", ["--module", "nosuchpkg_45"], "No module named 'nosuchpkg_45'"),
    "serve_env unknown env": ("agentgym.serve_env", ["agentgym/NoSuch-v0", "--port", "0"], "Did you mean"),
    "serve_env bad env-kwargs": ("agentgym.serve_env", [LAKE, "--env-kwargs", "{nosuch: 1}", "--port", "0"], "nosuch"),
    "serve_env env-kwargs YAML error": ("agentgym.serve_env", [LAKE, "--env-kwargs", "{a: [}"], "not valid YAML"),
    "serve_env used port": ("agentgym.serve_env", [LAKE, "--port", "{port}"], "Address already in use"),
    "serve_env max-sessions 0": ("agentgym.serve_env", [LAKE, "--max-sessions", "0"], "must be >= 1"),
    "policies.serve missing model": ("policies.serve", ["--model", "/nonexistent/model", "--port", "0"],
                                     "cannot load --model"),
    "policies.serve used port": ("policies.serve", ["--model", "{model}", "--port", "{port}"],
                                 "Address already in use"),
    "policies.serve max-batch 0": ("policies.serve", ["--model", "{model}", "--max-batch", "0"], "must be >= 1"),
}
DEFAULT_ENV = {"agentgym.train": LAKE, "agentgym.eval": LAKE, "agentgym.sft": LAKE}


@pytest.fixture(scope="module")
def used_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def run_command(module, args, **values):
    """``python -m module args`` with the placeholders filled, offline (a name is never looked up on a hub)."""
    for key, value in values.items():
        args = [a.replace("{" + key + "}", str(value)) for a in args]
    if module in DEFAULT_ENV and args[:1] != ["compare"] and "--env" not in args:
        args = ["--env", DEFAULT_ENV[module], *args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    env.pop("AGENTGYM_TRACEBACK", None)
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_argument_is_one_line_and_a_non_zero_exit(case, micro_model, used_port, tmp_path):
    module, args, says = CASES[case]
    (tmp_path / "empty").mkdir()
    result = run_command(module, args, run=tmp_path / "run", model=micro_model, empty=tmp_path / "empty",
                         port=used_port, dead=DEAD)
    assert result.returncode not in (0, None), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert says in last, result.stderr


def test_one_line_errors_names_the_command_and_the_kind_of_error(monkeypatch):
    monkeypatch.delenv("AGENTGYM_TRACEBACK", raising=False)
    with pytest.raises(SystemExit) as caught, one_line_errors("prog", "cannot start: "):
        raise ValueError("group_size must be >= 1,\n  got 0")
    assert caught.value.code == "prog: cannot start: group_size must be >= 1, got 0"
    with pytest.raises(SystemExit) as caught, one_line_errors("prog"):
        raise FileNotFoundError("/x: no such file")
    assert caught.value.code == "prog: FileNotFoundError: /x: no such file"
    with pytest.raises(SystemExit) as caught, one_line_errors("prog"):
        raise KeyError("loss")  # the command's own bug: the line says how to see where
    assert caught.value.code == "prog: KeyError: 'loss' (AGENTGYM_TRACEBACK=1 shows the traceback)"
    monkeypatch.setenv("AGENTGYM_TRACEBACK", "1")
    with pytest.raises(KeyError), one_line_errors("prog"):
        raise KeyError("loss")


def test_paths_are_told_from_names_and_checked(tmp_path):
    assert [looks_like_a_path(s) for s in ("/m", "./m", "~/m", "runs/a/final_policy", "org/name", "tiny",
                                           "replay:a/b/c.json", "x.json")] == [True, True, True, True, False, False,
                                                                              False, True]
    check_model_path("--model", "org/name")  # a hub id is the loader's business
    with pytest.raises(ValueError, match="no such folder"):
        check_model_path("--model", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="holds no model"):
        check_model_path("--model", str(tmp_path))
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "config.json").write_text("{}")  # a training checkpoint
    check_model_path("--model", str(tmp_path))
    assert describe(OSError("a\nb")) == "OSError: a b"
