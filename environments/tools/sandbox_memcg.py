"""One memory cgroup per sandbox run: a single limit for the run's whole process tree and what it writes to tmpfs.

``prlimit --as`` caps each process, so 20 children of 200 MB each took 2.35 GB, and tmpfs pages (``/dev``
inside bwrap, a tmpfs mounted in a nested namespace) counted against no process at all. A memory cgroup
charges every page the run's processes touch, tmpfs included, to one counter with one limit (swap
included where the kernel accounts it); the kernel's OOM killer stops the run when it is reached.

cgroup v1 (``/sys/fs/cgroup/memory``) and v2 (a ``memory`` controller in ``cgroup.subtree_control``) are
both handled. Each run's cgroup is made under the caller's own cgroup (read from ``/proc/self/cgroup``), not
at the hierarchy root: the sandboxed processes stay inside whatever limits and accounting the caller is
under (a container's, a systemd service's). Creating cgroups needs root (or a delegated subtree); where
that is not possible, ``available()`` says why and the sandbox keeps its per-process limits only.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

V1_ROOT = Path("/sys/fs/cgroup/memory")
V2_ROOTS = (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup"))
PREFIX = "agentgym-sandbox-"


def _v2_root() -> Path | None:
    for root in V2_ROOTS:
        controllers = root / "cgroup.subtree_control"
        if controllers.is_file() and "memory" in controllers.read_text().split():
            return root
    return None


def _root() -> tuple[Path, int] | None:
    if (V1_ROOT / "memory.limit_in_bytes").is_file():
        return V1_ROOT, 1
    v2 = _v2_root()
    return (v2, 2) if v2 is not None else None


def own_cgroup() -> Path | None:
    """This process's memory cgroup folder (v1: the ``memory`` line of /proc/self/cgroup; v2: ``0::``)."""
    found = _root()
    if found is None:
        return None
    root, version = found
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if (version == 1 and "memory" in controllers.split(",")) or (version == 2 and controllers == ""):
            folder = root / path.lstrip("/")
            return folder if folder.is_dir() else None
    return None


def available() -> tuple[bool, str]:
    """Whether a memory cgroup can be made here for each run, and why not."""
    found = _root()
    if found is None:
        return False, "no memory cgroup controller is mounted"
    root, version = found
    parent = own_cgroup()
    if parent is None:
        return False, f"this process's memory cgroup is not found under {root}"
    if version == 2 and "memory" not in (parent / "cgroup.subtree_control").read_text().split():
        return False, (f"the memory controller is not enabled for the children of {parent} (cgroup v2 enables it "
                       "only in a cgroup without processes of its own: delegate a subtree)")
    probe = parent / f"{PREFIX}probe-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        return False, f"cannot create a cgroup under {parent} ({exc.strerror})"
    return True, f"memory cgroup v{version} under {parent}"


class MemoryCgroup:
    """A fresh cgroup limited to ``limit_bytes``; processes join it through ``join_prefix()``."""

    def __init__(self, limit_bytes: int, owner_uid: int | None = None):
        found, parent = _root(), own_cgroup()
        if found is None or parent is None:
            raise OSError("no memory cgroup controller is mounted, or this process's cgroup is not found in it")
        self.version = found[1]
        self.path = parent / f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:10]}"
        self.path.mkdir()
        try:
            if self.version == 1:
                (self.path / "memory.limit_in_bytes").write_text(str(limit_bytes))
                swap = self.path / "memory.memsw.limit_in_bytes"
                if swap.is_file():  # memory + swap: the run cannot spill past its limit into swap
                    swap.write_text(str(limit_bytes))
            else:
                (self.path / "memory.max").write_text(str(limit_bytes))
                if (self.path / "memory.swap.max").is_file():
                    (self.path / "memory.swap.max").write_text("0")
            if owner_uid is not None:  # the run's first process, already that uid, moves itself in
                os.chown(self.path / "cgroup.procs", owner_uid, -1)
        except BaseException:
            self.close()
            raise

    def join_prefix(self) -> list[str]:
        """A command prefix that moves its own process into the cgroup, then execs the rest of the command."""
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.path / "cgroup.procs")]

    def oom_kills(self) -> int:
        """How many processes of the run the kernel killed for reaching the limit."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            for line in (self.path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def peak_bytes(self) -> int | None:
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        try:
            return int((self.path / name).read_text())
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        """Remove the cgroup (its processes are gone once the run's process group was killed)."""
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:  # still busy for a moment while the last processes exit
                time.sleep(0.02)
