"""The Docker sandbox: one throw-away container per run from a locally built image.

Containers run with no network, a read-only root filesystem, a small tmpfs working directory, an
unprivileged user, no capabilities, and memory, CPU, pids and file-size limits. The image comes from
``sandbox.Dockerfile`` next to this file and is built on first use when it is missing. The docker
CLI is used (no daemon socket handling of our own); a wall-clock timeout kills the container.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

from environments.tools.sandbox import (
    SANDBOX_ENV,
    WORKDIR,
    Limits,
    RunResult,
    interpreter_command,
    log,
    run_capped,
)

IMAGE = "agentgym-sandbox:py3.11"
DOCKERFILE = Path(__file__).with_name("sandbox.Dockerfile")


def docker_reachable(timeout_s: float = 10.0) -> tuple[bool, str]:
    """Whether a docker CLI is installed and its engine answers."""
    if shutil.which("docker") is None:
        return False, "docker CLI not installed"
    try:
        probe = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True,
                               text=True, timeout=timeout_s)
    except (subprocess.TimeoutExpired, OSError) as exc:
        return False, f"docker engine did not answer ({type(exc).__name__})"
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["no reason given"])[-1]
        return False, f"docker engine not reachable: {reason[:160]}"
    return True, f"docker engine {probe.stdout.strip()}"


class DockerBackend:
    name = "docker"

    def __init__(self, image: str = IMAGE):
        self.image = image
        self._image_ready = False

    def ensure_image(self) -> None:
        """Build the sandbox image from ``sandbox.Dockerfile`` if the engine does not have it yet."""
        if self._image_ready:
            return
        inspect = subprocess.run(["docker", "image", "inspect", self.image], capture_output=True, timeout=60)
        if inspect.returncode != 0:
            log.info("Building sandbox image %s from %s", self.image, DOCKERFILE)
            subprocess.run(["docker", "build", "-t", self.image, "-f", str(DOCKERFILE), str(DOCKERFILE.parent)],
                           check=True, capture_output=True, timeout=1800)
        self._image_ready = True

    def command(self, limits: Limits, name: str) -> list[str]:
        fsize = limits.max_file_mb * 2**20
        cpu = max(1, int(limits.timeout_s + 2))
        memory = limits.memory_mb * 2**20
        cmd = ["docker", "run", "--rm", "-i", "--name", name, "--network", "none", "--read-only",
               "--memory", f"{limits.memory_mb}m", "--memory-swap", f"{limits.memory_mb}m", "--cpus", "1",
               "--pids-limit", str(limits.max_procs + 2), "--cap-drop", "ALL",
               "--security-opt", "no-new-privileges", "--user", "65534:65534",
               "--ulimit", f"fsize={fsize}:{fsize}", "--ulimit", f"cpu={cpu}:{cpu}", "--ulimit", "nofile=64:64",
               "--ulimit", f"as={memory}:{memory}",
               "--ulimit", "core=0", "--tmpfs", f"{WORKDIR}:rw,exec,size={limits.disk_mb}m,mode=1777",
               "--tmpfs", f"/tmp:rw,size={limits.disk_mb}m,mode=1777", "--workdir", WORKDIR]
        for key, value in SANDBOX_ENV.items():
            cmd += ["--env", f"{key}={value}"]
        return [*cmd, self.image, *interpreter_command("python3", limits)]

    def run(self, code: str, files: dict[str, str], limits: Limits) -> RunResult:
        self.ensure_image()
        name = f"agentgym-sbx-{uuid.uuid4().hex[:12]}"
        stdin = json.dumps({**files, "main.py": code}).encode()
        # Container start-up is not the program's time: the in-container `timeout` limits the program,
        # the host backstop allows for start-up.
        return run_capped(self.command(limits, name), stdin, limits, self.name, grace_s=15.0,
                          on_timeout=lambda: _kill_container(name))


def _kill_container(name: str) -> None:
    subprocess.run(["docker", "kill", name], capture_output=True, timeout=30)
