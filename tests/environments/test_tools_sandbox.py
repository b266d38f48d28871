"""Security of the run_python sandbox, for each backend: no files outside the working dir, no network,
and runaway programs (infinite loop, memory bomb, fork bomb) stopped within the limits and reported,
with the environment still usable afterwards. Docker tests skip with the reason when no engine answers."""

import logging
import socket
import subprocess
import time
from pathlib import Path

import pytest

import agentgym
from environments.tools import sandbox_choice
from environments.tools.protocol import format_call
from environments.tools.sandbox import Limits
from environments.tools.sandbox_bwrap import UID_BASE, BwrapBackend
from environments.tools.sandbox_docker import DockerBackend, docker_reachable

LIMITS = Limits(timeout_s=1.5, memory_mb=256, max_procs=16)


def _backend(name):
    if name == "bwrap":
        ok, why = BwrapBackend.available()
        return BwrapBackend() if ok else pytest.skip(f"bubblewrap sandbox unavailable: {why}")
    ok, why = docker_reachable()
    return DockerBackend() if ok else pytest.skip(f"Docker backend not tested: {why}")


@pytest.fixture(params=["bwrap", "docker"], scope="module")
def backend(request):
    return _backend(request.param)


def test_runs_code_with_its_data_file(backend):
    result = backend.run("import os\nprint(os.getcwd(), sorted(os.listdir('.')), open('d.txt').read())",
                         {"d.txt": "hello"}, LIMITS)
    assert result.exit_code == 0 and result.stdout.strip() == "/sandbox ['d.txt', 'main.py'] hello"


def test_cannot_read_files_outside_the_working_dir(backend, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    secret.chmod(0o644)
    tmp_path.chmod(0o755)
    targets = [str(secret), "/etc/passwd", "/etc/shadow", "/root/.bashrc", "/work/main/pyproject.toml"]
    code = (f"import os\nfor p in {targets!r}:\n    try:\n        print('READ', p, open(p).read()[:20])\n"
            "    except OSError as e:\n        print('BLOCKED', p, type(e).__name__)\n")
    result = backend.run(code, {}, LIMITS)
    assert result.exit_code == 0, result.stderr
    assert "READ" not in result.stdout and result.stdout.count("BLOCKED") == len(targets)


def test_host_environment_variables_do_not_leak(backend, monkeypatch):
    monkeypatch.setenv("AGENTGYM_TEST_SECRET", "s3cr3t-token")
    code = ("import glob, os\nprint(dict(os.environ))\nfor p in glob.glob('/proc/*/environ'):\n"
            "    try:\n        print(p, open(p, 'rb').read())\n    except OSError:\n        pass\n")
    result = backend.run(code, {}, LIMITS)
    assert result.exit_code == 0 and "PYTHONHASHSEED" in result.stdout
    assert "s3cr3t-token" not in result.stdout


def test_cannot_write_outside_the_working_dir(backend):
    code = ("for p in ['/usr/evil', '/evil', '/etc/evil']:\n    try:\n        open(p, 'w').write('x')\n"
            "        print('WROTE', p)\n    except OSError as e:\n        print('BLOCKED', p)\n")
    result = backend.run(code, {}, LIMITS)
    assert "WROTE" not in result.stdout and result.stdout.count("BLOCKED") == 3


def test_cannot_open_a_network_connection(backend):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        code = (f"import socket\nfor host, port in [('127.0.0.1', {port}), ('1.1.1.1', 53), ('pypi.org', 443)]:\n"
                "    try:\n        socket.create_connection((host, port), timeout=1)\n"
                "        print('CONNECTED', host)\n"
                "    except OSError as e:\n        print('BLOCKED', host)\n")
        result = backend.run(code, {}, LIMITS)
    assert "CONNECTED" not in result.stdout and result.stdout.count("BLOCKED") == 3


ROOMY = Limits(timeout_s=15, memory_mb=256, max_procs=16)  # the memory limit, not the clock, must stop it


@pytest.mark.parametrize("code, limits, reported", [
    ("while True:\n    pass", LIMITS, "time limit"),
    ("import time\ntime.sleep(60)", LIMITS, "time limit"),
    ("blocks = []\nwhile True:\n    blocks.append(bytearray(10**7))", ROOMY, "out of memory"),
    ("import os\nwhile True:\n    os.fork()", ROOMY, "processes"),
    ("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass", LIMITS, "time limit"),
    # ignores the timeout's SIGTERM, so it is SIGKILLed (exit 137): once reported as "ran out of memory"
    ("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)", LIMITS, "time limit"),
])
def test_runaway_programs_are_stopped_within_limits_and_reported(backend, code, limits, reported):
    start = time.monotonic()
    result = backend.run(code, {}, limits)
    elapsed = time.monotonic() - start
    assert elapsed < limits.timeout_s + (20 if backend.name == "docker" else 5)
    hit = result.limit_hit(limits)
    assert hit is not None and reported in hit, (hit, result)
    assert reported in result.describe(limits)
    assert not _live_sandbox_processes()


def test_output_flood_is_cut(backend):
    result = backend.run("print('x' * 10**6)", {}, LIMITS)
    assert len(result.stdout) < LIMITS.max_output_bytes + 100 and "output cut" in result.stdout


def _live_sandbox_processes():
    """Non-zombie processes still running under the per-run sandbox uids (bwrap backend)."""
    time.sleep(0.2)
    ps = subprocess.run(["ps", "-eo", "uid=,stat="], capture_output=True, text=True).stdout.split("\n")
    return [line for line in ps if line.split() and int(line.split()[0]) >= UID_BASE and "Z" not in line.split()[1]]


def test_environment_still_usable_after_bombs(backend):
    env = agentgym.make("agentgym/PythonTool-v0", split="train", sandbox=backend.name, timeout_s=1.5, max_procs=16)
    _, info = env.reset(options={"task_id": "divisible-2"})
    for bomb in ["while True: pass", "x = ' ' * 10**10", "import os\nwhile True: os.fork()"]:
        obs, _, terminated, _, step_info = env.step(format_call("run_python", code=bomb))
        assert "The program was stopped" in obs and not terminated and step_info["action_valid"], obs
    while True:
        obs, reward, terminated, truncated, info = env.step(info["expert_action"])
        if terminated or truncated:
            break
    assert info["success"] and reward == 1.0


def test_backend_choice_is_logged(caplog, monkeypatch):
    monkeypatch.setattr(sandbox_choice, "_CHOSEN", {})
    with caplog.at_level(logging.INFO, logger="agentgym.tools.sandbox"):
        chosen = sandbox_choice.choose_backend("auto")
    message = " ".join(r.getMessage() for r in caplog.records)
    if chosen is None:
        assert "No Python sandbox available" in message
    else:
        assert f"Python sandbox backend: {'docker' if chosen.name == 'docker' else 'bubblewrap'}" in message


def test_docker_command_sets_the_isolation_flags():
    """The Docker command line is checked even where no engine runs (the run itself is tested above)."""
    cmd = DockerBackend().command(LIMITS, "agentgym-sbx-test")
    joined = " ".join(cmd)
    for flag in ["--network none", "--read-only", "--memory 256m", "--pids-limit 18", "--cap-drop ALL",
                 "--user 65534:65534", "--tmpfs /sandbox:rw,exec,size=16m,mode=1777", "no-new-privileges"]:
        assert flag in joined
    assert cmd[cmd.index("agentgym-sandbox:py3.11") + 1:][:4] == ["timeout", "--kill-after=1", "1.5", "python3"]


def _bwrap_with_memcg():
    from environments.tools import sandbox_memcg

    backend = _backend("bwrap")
    ok, why = sandbox_memcg.available()
    return backend if ok else pytest.skip(f"no memory cgroup here ({why}): each process is capped alone")


MANY_CHILDREN = """import os, time
kids = []
for _ in range(20):
    pid = os.fork()
    if pid == 0:
        block = bytearray(200 * 2**20)  # under the per-process cap, 4 GB together
        time.sleep(2)
        os._exit(0)
    kids.append(pid)
print('children that kept their memory:', sum(os.waitpid(p, 0)[1] == 0 for p in kids))
"""
DEV_FILES = "for i in range(400):\n    open(f'/dev/f{i}', 'wb').write(b'x' * (7 * 2**20))\nprint('wrote 2.8 GB')"
NESTED_TMPFS = ("import subprocess\n"
                "r = subprocess.run(['unshare', '-Urm', 'sh', '-c', 'mount -t tmpfs t /mnt && echo MOUNTED'],"
                " capture_output=True, text=True)\nprint(r.stdout or 'refused', r.stderr)")


@pytest.mark.parametrize("code, refused", [(MANY_CHILDREN, None), (DEV_FILES, None), (NESTED_TMPFS, "refused")])
def test_one_memory_limit_holds_for_the_whole_run(code, refused, monkeypatch):
    """The three bypasses of the per-process cap: 20 children x 200 MB took 2.35 GB of host memory; /dev (a
    tmpfs without a size) took 3.2 GB; a nested user namespace could mount another unbounded tmpfs."""
    from environments.tools import sandbox_memcg

    backend = _bwrap_with_memcg()
    limits = Limits(timeout_s=20, memory_mb=256, max_procs=32)
    peaks = []
    close = sandbox_memcg.MemoryCgroup.close

    def record_peak(self):
        peaks.append(self.peak_bytes())
        close(self)

    monkeypatch.setattr(sandbox_memcg.MemoryCgroup, "close", record_peak)
    result = backend.run(code, {}, limits)
    if refused:
        assert "MOUNTED" not in result.stdout and refused in result.stdout, result
    else:
        assert result.oom_killed and "ran out of memory" in result.describe(limits), result
        assert "wrote 2.8 GB" not in result.stdout and "memory: 20" not in result.stdout
    assert peaks and peaks[0] <= 256 * 2**20 + 2**20  # the whole run, tmpfs included, within its limit
    assert not list(sandbox_memcg.own_cgroup().glob(sandbox_memcg.PREFIX + "*"))  # the run's cgroup is gone
    assert not _live_sandbox_processes()


def test_a_sigkill_that_is_not_a_memory_kill_is_not_reported_as_one():
    """Any early SIGKILL was reported as "ran out of memory"; the run's cgroup counts the kernel's OOM kills."""
    backend = _bwrap_with_memcg()
    result = backend.run("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", {}, ROOMY)
    hit = result.limit_hit(ROOMY)
    assert result.exit_code in (-9, 137) and not result.oom_killed, result
    assert hit.startswith("it was killed by a SIGKILL that was not its memory limit") and "ran out" not in hit, hit
    bomb = backend.run("blocks = []\nwhile True:\n    blocks.append(bytearray(10**7))", {}, ROOMY)
    assert "ran out of memory" in bomb.limit_hit(ROOMY)


def test_a_sigkill_without_a_memory_cgroup_is_hedged():
    from environments.tools.sandbox import RunResult

    killed = RunResult("", "", -9, False, 0.3, "bwrap")  # per-process limits only: no cgroup counted OOM kills
    assert killed.limit_hit(ROOMY) == ("it was killed (SIGKILL) before its time limit, most likely because it ran "
                                       "out of memory (limit 256 MB)")
    watched = RunResult("", "", -9, False, 0.3, "bwrap", memory_watched=True)
    assert watched.limit_hit(ROOMY) == ("it was killed by a SIGKILL that was not its memory limit (its memory "
                                        "cgroup recorded no out-of-memory kill)")


def test_run_cgroups_are_made_under_the_callers_cgroup():
    """They were made at the hierarchy root, which moved sandboxed processes out of the caller's cgroup (and
    out of any limit set on it)."""
    from environments.tools import sandbox_memcg

    _bwrap_with_memcg()
    own = sandbox_memcg.own_cgroup()
    line = next(x for x in Path("/proc/self/cgroup").read_text().splitlines()
                if "memory" in x.split(":")[1].split(",") or x.startswith("0::"))
    assert str(own).endswith(line.split(":", 2)[2].rstrip("/")) and own.is_dir()
    group = sandbox_memcg.MemoryCgroup(64 * 2**20)
    try:
        assert group.path.parent == own and group.path.name.startswith(sandbox_memcg.PREFIX)
    finally:
        group.close()
    assert not group.path.exists()
