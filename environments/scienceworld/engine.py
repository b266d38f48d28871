"""The ScienceWorld simulator: one JVM per engine, started with the Java runtime found here.

``scienceworld.ScienceWorldEnv`` starts its simulator (a Scala program in the wheel's jar) with py4j's
``launch_gateway``; this subclass starts it the same way but (1) finds ``java`` first and, when there is
none, raises ``JavaRuntimeMissing`` naming the fix instead of py4j's bare ``FileNotFoundError``, and (2)
can pass JVM options. The one option used: ``-XX:hashCode=2``. The simulator keeps objects in hash sets
keyed by the JVM's identity hash codes, which are random per object, so two loads of the same task and
variation list objects in different orders and let the seeded random choices (wandering bees, which
animal the gold path picks) fall differently. With a constant identity hash the sets iterate in
insertion order and a task plays identically on every load, in every process (checked in the tests).
The price: hash sets degrade to lists inside the simulator (bench/env_speed_scienceworld.py measures it).
The JVM also runs one garbage-collector thread with a capped heap (``BASE_JVM_OPTIONS``). And the valid actions
come back in one socket round trip (``valid_actions``) rather than one per action.
"""

from __future__ import annotations

import os
import shutil

from py4j.java_gateway import CallbackServerParameters, GatewayParameters, JavaGateway, launch_gateway
from scienceworld import ScienceWorldEnv
from scienceworld.constants import BASEPATH, JAR_PATH

# one garbage-collector thread and a capped heap: many simulators share a few cores (the genetics tasks peak
# near 0.6 GB resident with the JVM's defaults)
BASE_JVM_OPTIONS = ("-XX:+UseSerialGC", "-Xmx1g")
DETERMINISTIC_JVM_OPTIONS = (*BASE_JVM_OPTIONS, "-XX:+UnlockExperimentalVMOptions", "-XX:hashCode=2")
NO_STEP_LIMIT = 10**9  # the simulator's own step limit is off: TextEnv's max_steps truncates


class JavaRuntimeMissing(RuntimeError):
    """ScienceWorld's simulator runs on a Java runtime, and none was found."""


def find_java() -> str:
    """The ``java`` executable: ``$JAVA_HOME/bin/java`` when JAVA_HOME is set, else ``java`` on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = os.path.join(java_home, "bin", "java")
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("java")
    if found:
        return found
    where = f"JAVA_HOME={java_home!r} has no bin/java and " if java_home else ""
    raise JavaRuntimeMissing(
        "agentgym/ScienceWorld-v0 needs a Java runtime (Java 8 or newer: ScienceWorld's simulator is a JVM "
        f"program), but {where}no `java` is on PATH. Install one: `apt-get install default-jre-headless` "
        "on Debian/Ubuntu (scripts/setup.sh does this when run as root), or set JAVA_HOME to a JDK/JRE.")


class ScienceWorldEngine(ScienceWorldEnv):
    """``scienceworld.ScienceWorldEnv`` on a JVM started with ``java_options``, no task loaded yet."""

    def __init__(self, java_options: tuple[str, ...] = DETERMINISTIC_JVM_OPTIONS, step_limit: int = NO_STEP_LIMIT):
        java = find_java()
        port, process = launch_gateway(classpath=JAR_PATH, javaopts=list(java_options), java_path=java,
                                       die_on_exit=True, cwd=BASEPATH, return_proc=True)
        # the Python side's callback server on a free port, and the JVM told where it listens
        self._gateway = JavaGateway(gateway_parameters=GatewayParameters(auto_field=True, port=port),
                                    callback_server_parameters=CallbackServerParameters(port=0, daemonize=True),
                                    java_process=process)
        callback_port = self._gateway.get_callback_server().get_listening_port()
        server = self._gateway.java_gateway_server
        server.resetCallbackClient(server.getCallbackClient().getAddress(), callback_port)
        self.server = self._gateway.jvm.scienceworld.runtime.pythonapi.PythonInterface()
        self.taskName, self.simplificationStr, self.variationIdx = None, "", 0
        self.lastStepScore = 0
        self.envStepLimit = step_limit
        self.goldPathGenerated = False
        self.runHistories = {}

    def valid_actions(self) -> list[str]:
        """The valid action-object combinations, as ``get_valid_action_object_combinations`` returns them, but
        joined in the JVM and split here: py4j fetches a Java list one element per socket round trip (about
        80 ms for the 1,100 combinations of a furnished room), a string in one."""
        joined = str(self._gateway.jvm.java.lang.String.join("\n", self.server.getValidActionObjectCombinations()))
        return joined.split("\n") if joined else []

    @property
    def java_process(self):
        return self._gateway.java_process

    def close(self) -> None:
        """Stop the gateway and the JVM (idempotent; safe after a failed start)."""
        gateway = self.__dict__.pop("_gateway", None)
        if gateway is None:
            return
        process = gateway.java_process
        gateway.shutdown()
        if process.poll() is None:  # die_on_exit: the JVM exits when its stdin sees a line
            try:
                process.stdin.write(b"\n")
                process.stdin.flush()
            except OSError:
                pass
            try:
                process.wait(timeout=10)
            except Exception:  # noqa: BLE001 - a JVM that ignores its stdin is killed
                process.kill()
                process.wait(timeout=10)
