"""The worker process of the process backend: ``python -m agentgym.rollout.pool.worker FD``.

Started as a fresh interpreter (``subprocess``), not through ``multiprocessing``: nothing of the
parent is inherited (no torch threads, no locks) and the parent's ``__main__`` is never re-imported,
so scripts need no ``if __name__ == "__main__"`` guard. ``FD`` is this end of a socket pair; the
first message is ``(HostSpec, count)``, then ("reset" | "step" | "task_ids" | "close", items,
info_keys) requests, each answered with ("ok", results) or ("fail", traceback).
"""

from __future__ import annotations

import os
import sys
import traceback
from multiprocessing.connection import Connection

from agentgym.rollout.pool.host import EnvHost


def serve(conn: Connection) -> None:
    spec, count = conn.recv()
    try:
        host = EnvHost(spec, count)
    except BaseException:  # noqa: BLE001 - sent to the parent, which raises it as a config error
        conn.send(("error", traceback.format_exc()))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            op, items, info_keys = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if op == "close":
            host.close()
            conn.send(("ok", None))
            return
        try:
            reply = host.task_ids() if op == "task_ids" else host.call(op, items, info_keys)
            conn.send(("ok", reply))
        except Exception:  # noqa: BLE001 - e.g. an info that cannot be pickled: every item of the call fails
            conn.send(("fail", traceback.format_exc()))


if __name__ == "__main__":
    try:
        serve(Connection(int(sys.argv[1])))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # never wait for a daemon thread stuck in an abandoned step
