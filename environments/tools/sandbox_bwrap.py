"""The bubblewrap sandbox: Linux namespaces without a container engine.

Each run gets new user, pid, network, mount, IPC, UTS and cgroup namespaces; only the system's
``/usr`` (read-only) is visible, plus fresh ``/proc``, ``/dev`` and two small tmpfs mounts (``/tmp``
and the working directory ``/sandbox``); the rest of the root is read-only and bwrap itself runs
with a bare environment, so none of the host's environment variables is visible either. Resource
limits come from ``prlimit`` (address space, CPU seconds, processes, file size, open files). When
started as root, each run also gets its own unused uid, so the process limit counts only that run's
processes and nothing can signal other users' ones. Where a memory cgroup can be made
(``sandbox_memcg``), the whole run (every process, and every tmpfs page it writes, ``/dev`` included)
shares one ``memory_mb`` limit; nested user namespaces are refused (``--disable-userns``), so the
program cannot mount a tmpfs of its own.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from environments.tools import sandbox_memcg
from environments.tools.sandbox import (
    SANDBOX_ENV,
    WORKDIR,
    Limits,
    RunResult,
    interpreter_command,
    run_capped,
)

UID_BASE = 1_600_000  # far above any uid in /etc/passwd; one fresh uid per run
_uid_counter = itertools.count()
BOOTSTRAP_PROCS = 4  # prlimit->bwrap, bwrap's namespace init, timeout and the interpreter count towards NPROC


def _interpreter() -> tuple[str, list[str]]:
    """The Python to run inside (the system one under /usr when present) and extra dirs to bind."""
    system = Path("/usr/bin/python3")
    if system.exists():
        return str(system), []
    exe = Path(sys.executable).resolve()
    prefix = str(Path(sys.base_prefix).resolve())
    return str(exe), ([] if prefix.startswith("/usr") else [prefix])


class BwrapBackend:
    name = "bwrap"

    @staticmethod
    def available() -> tuple[bool, str]:
        missing = [tool for tool in ("bwrap", "prlimit") if shutil.which(tool) is None]
        if missing:
            return False, f"{' and '.join(missing)} not installed"
        probe = subprocess.run(["bwrap", "--unshare-all", "--ro-bind", "/usr", "/usr", *_lib_binds(), "/usr/bin/true"],
                               capture_output=True, timeout=20)
        if probe.returncode != 0:
            return False, f"bwrap cannot create namespaces here: {probe.stderr.decode(errors='replace')[:200]}"
        memcg_ok, memcg_why = _memcg()
        tree = f"one memory limit per run ({memcg_why})" if memcg_ok else (
            f"memory capped per process only: {memcg_why}")
        return True, f"bwrap namespaces work; {tree}"

    def command(self, limits: Limits, procs_in_use: int = 0) -> list[str]:
        """The full command line; ``procs_in_use`` is what the running uid already has (0 with a fresh uid)."""
        python, extra_dirs = _interpreter()
        cmd = ["prlimit", f"--as={limits.memory_mb * 2**20}", f"--cpu={max(1, int(limits.timeout_s + 2))}",
               f"--nproc={procs_in_use + limits.max_procs + BOOTSTRAP_PROCS}", f"--fsize={limits.max_file_mb * 2**20}",
               "--nofile=64", "--core=0", "--",
               "bwrap", "--unshare-all", "--unshare-user", "--disable-userns",  # no nested namespaces (own tmpfs)
               "--die-with-parent", "--new-session", "--cap-drop", "ALL",
               "--hostname", "sandbox", "--ro-bind", "/usr", "/usr", *_lib_binds()]
        for directory in extra_dirs:
            cmd += ["--ro-bind", directory, directory]
        cmd += ["--proc", "/proc", "--dev", "/dev", "--size", str(limits.disk_mb * 2**20), "--tmpfs", "/tmp",
                "--size", str(limits.disk_mb * 2**20), "--tmpfs", WORKDIR, "--remount-ro", "/", "--chdir", WORKDIR,
                "--clearenv"]
        for key, value in SANDBOX_ENV.items():
            cmd += ["--setenv", key, value]
        return [*cmd, *interpreter_command(python, limits)]

    def run(self, code: str, files: dict[str, str], limits: Limits) -> RunResult:
        stdin = json.dumps({**files, "main.py": code}).encode()
        # bwrap's own processes (the namespace's pid 1 shows in /proc/1/environ) get a bare environment too
        bare_env = {"PATH": "/usr/bin:/bin"}
        root = os.geteuid() == 0
        uid = UID_BASE + (os.getpid() % 1000) * 1000 + next(_uid_counter) % 1000 if root else None
        command = self.command(limits) if root else self.command(limits, _processes_of(os.geteuid()))
        memcg = sandbox_memcg.MemoryCgroup(limits.memory_mb * 2**20, owner_uid=uid) if _memcg()[0] else None
        if memcg is not None:
            command = [*memcg.join_prefix(), *command]
        ids = {"user": uid, "group": uid, "extra_groups": []} if root else {}
        try:
            result = run_capped(command, stdin, limits, self.name, env=bare_env, **ids)
        finally:
            oom_kills = memcg.oom_kills() if memcg is not None else 0
            if memcg is not None:
                memcg.close()
        return dataclasses.replace(result, oom_killed=oom_kills > 0, memory_watched=memcg is not None)


@functools.cache
def _memcg() -> tuple[bool, str]:
    """Whether runs get a memory cgroup here (checked once per process)."""
    return sandbox_memcg.available()


def _lib_binds() -> list[str]:
    """/bin, /lib, /lib64 and /sbin as on the host: symlinks into /usr (merged /usr) or read-only binds."""
    args = []
    for path in ("/bin", "/lib", "/lib64", "/sbin"):
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def _processes_of(uid: int) -> int:
    """Tasks (threads) owned by ``uid``: what RLIMIT_NPROC counts."""
    count = 0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                count += len(os.listdir(entry / "task"))
        except OSError:
            continue
    return count
