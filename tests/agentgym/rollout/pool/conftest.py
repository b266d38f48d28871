"""A local Ray instance shared by a test module, stopped at its end with nothing left running."""

import pytest


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    import psutil

    before = {p.pid for p in psutil.process_iter()}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
    left = [p for p in psutil.process_iter(["name", "cmdline"])
            if p.pid not in before and "ray" in " ".join(p.info["cmdline"] or []).lower()]
    for proc in left:  # give the cluster's processes a moment to exit before calling them leaked
        try:
            proc.wait(timeout=15)
        except psutil.TimeoutExpired:
            pass
    assert not [p for p in left if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], \
        "Ray processes outlived ray.shutdown()"
