"""The project's speed figures in one table, gathered from the other benchmark scripts.

Each section runs its script in a subprocess with ``--json`` (so one crash or import error does not
stop the others) and turns the figures into rows; a section that fails shows its error in its row.
Every subprocess's peak memory is recorded too; the ``memory`` section is a short default training run.
Prints the Markdown table and writes ``bench/results/speed.json`` and ``bench/results/speed.md``.

    python bench/speed.py --quick                        # small sizes: a smoke check, a few minutes
    python bench/speed.py                                # docs/benchmarks.md's sizes (about 12 min on a quiet 2-core machine)
    python bench/speed.py --quick --only credit,env-textworld --timeout 300

Sections: policy, loop, credit, env-webshop, env-alfworld, env-textworld (``env`` = all three), memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
VERSIONS = ("torch", "transformers", "gymnasium", "textworld", "alfworld")


@dataclass(frozen=True)
class Section:
    title: str
    argv: Callable[[list[str], Path], list[str]]  # the command, given the size flags and the JSON path
    full: list[str]  # size flags of docs/benchmarks.md
    quick: list[str]  # size flags of a smoke check
    rows: Callable[[dict | None, dict], list[tuple[str, str]]]  # (figure, value) from the JSON and the process


def script(name: str, *lead: str) -> Callable[[list[str], Path], list[str]]:
    """Command line of ``bench/<name> [lead] --json PATH [flags]``."""
    return lambda flags, out: [sys.executable, str(HERE / name), *lead, "--json", str(out), *flags]


def env_family(family: str) -> Callable[[list[str], Path], list[str]]:
    """Through ``env_speed.py``, the flags after '--' going to the family's own script."""
    return lambda flags, out: script("env_speed.py", family)(["--", *flags], out)


def train_run(flags: list[str], out: Path) -> list[str]:
    """The default training run (no JSON: its figure is the process's own peak memory)."""
    return [sys.executable, "-m", "agentgym.train", "--eval-every", "0", "--run-dir", str(out.with_suffix("")),
            "--overwrite", "true", *flags]  # each bench run replaces the last one's


# ---- figures -> table rows: (figure, value) from the script's JSON and its process's memory ----
Rows = list[tuple[str, str]]


def mib(n: float | None) -> str:
    return "-" if n is None else f"{n / 2**20:,.0f} MiB"


def policy_rows(f: dict, _: dict) -> Rows:
    setup = (f"{f['params'] / 1e6:.2f}M params, {f['device']}, {f['threads']} threads, "
             f"{f['new_tokens']} new tokens, best of {f['repeats']}")
    rows = [(f"generation tok/s at batch {g['batch']}: policy / raw `model.generate` (wrapper overhead)",
             f"{g['policy_tok_s']:.1f} / {g['raw_tok_s']:.1f} ({100 * g['overhead']:+.1f}%)") for g in f["generate"]]
    t = f["train_step"]
    return rows + [(f"training step tok/s (score + entropy + backward, batch {t['batch']})",
                    f"{t['tok_s']:.0f} ({t['s_per_step']:.2f} s/step)"), ("setup", setup)]


def loop_rows(f: dict, _: dict) -> Rows:
    its = f["iterations"]
    tokens = sum(i["tokens"] for i in its)
    return [("policy share of rollout time (goal >= 85%)", f"{100 * f['policy_share']:.1f}%"),
            ("environment share of rollout time", f"{100 * f['env_share']:.1f}%"),
            ("update tok/s vs bare forward+backward loop (goal >= 80%)",
             f"{tokens / sum(i['update_s'] for i in its):.0f} vs {tokens / sum(i['bare_s'] for i in its):.0f} "
             f"({100 * f['update_vs_bare']:.0f}%)"),
            (f"credit ({f['credit']}) share of an iteration", f"{100 * f['credit_share']:.3f}%"),
            ("iterations timed", f"{len(its)} ({sum(i['steps'] for i in its):,} env steps)")]


def credit_rows(f: dict, _: dict) -> Rows:
    rows = []
    for r in f["rows"]:
        value = f"{r['grpo_s']:.4f} / {r['gigpo_s']:.4f} ({r['gigpo_cpu_s']:.4f} CPU)"
        if "gigpo_similarity_s" in r:
            value += f"; similarity {f['similarity']}: {r['gigpo_similarity_s']:.3f}"
        rows.append((f"{r['steps']:,} steps: GRPO / GiGPO wall s, best of {f['repeats']}", value))
    return rows


def webshop_rows(f: dict, _: dict) -> Rows:
    f = env_figures(f, "webshop")
    return [(f"WebShop {m['mode']} steps/s ({m['sessions']} sessions, {f['num_products']:,} products)",
             f"{m['steps_per_s']:.1f} ({m['steps']:,} steps, {len(m['errors'])} errors)") for m in f["modes"]]


def alfworld_rows(f: dict, _: dict) -> Rows:
    f = env_figures(f, "alfworld")
    raw, ours, plain = f["cpu_s"]["raw"], f["cpu_s"]["ours"], f["cpu_s"]["ours_no_caches"]
    rows = [("ALFWorld step CPU s: raw alfworld env / ours (ratio; goal <= 0.25) / ours without caches",
             f"{raw['step']:.3f} / {ours['step']:.4f} ({ours['step'] / raw['step']:.3f}) / {plain['step']:.3f}"),
            ("ALFWorld reset of a new game CPU s: raw / ours (ratio; goal <= 0.5)",
             f"{raw['reset']:.2f} / {ours['reset']:.2f} ({ours['reset'] / raw['reset']:.2f})"),
            (f"ALFWorld generation s per game, wall / CPU ({f['games']} games)",
             f"{f['gen_wall_s_per_game']:.2f} / {f['gen_cpu_s_per_game']:.2f}")]
    if it := f.get("iteration"):
        rows.append((f"ALFWorld iteration engine CPU-min, {it['groups']} x {it['group_size']} random rollouts "
                     "(goal <= 3 at 16 x 8)", f"{it['cpu_s'] / 60:.2f} ({it['steps']} steps)"))
    return rows


def textworld_rows(f: dict, _: dict) -> Rows:
    f = env_figures(f, "textworld")
    return [(f"TextWorld {r['family']} ms, raw textworld -> ours (median CPU, {f['games']} games)",
             f"step {r['step_raw_ms']:.2f} -> {r['step_ms']:.2f} ({100 * r['step_over']:+.1f}%); "
             f"reset {r['reset_raw_ms']:.2f} -> {r['reset_ms']:.2f}; random walk, planner every step -> on demand "
             f"{r['walk_eager_ms']:.2f} -> {r['walk_ms']:.2f} ({r['walk_ratio']:.2f})") for r in f["families"]]


def env_figures(f: dict, family: str) -> dict:
    if "error" in f[family]:
        raise RuntimeError(f[family]["error"])
    return f[family]


def memory_rows(_: dict | None, process: dict) -> Rows:
    return [(f"peak RSS of `{process['command']}`", f"{mib(process['ru_maxrss_bytes'])} (ru_maxrss from "
             "os.wait4 = getrusage(RUSAGE_CHILDREN) for this child: its largest single process)"),
            ("same run, summed over its process tree", f"{mib(process['psutil_tree_peak_bytes'])} (psutil RSS, "
             "sampled every 0.5 s)")]



SECTIONS = {  # name: (title, command, full sizes, quick sizes, rows), in the table's order
    "policy": Section("policy throughput", script("policy_throughput.py"),
                      ["--repeats", "3"], ["--repeats", "1", "--new-tokens", "8"], policy_rows),
    "loop": Section("one training iteration", script("loop_efficiency.py"),
                    ["--iterations", "3"], ["--iterations", "1", "--num-groups", "2", "--group-size", "4"],
                    loop_rows),
    "credit": Section("credit overhead", script("credit_overhead.py"),
                      ["--repeats", "3", "--similarity", "0.9"], ["--sizes", "1000", "10000", "--repeats", "1"],
                      credit_rows),
    "env-webshop": Section("WebShop env", env_family("webshop"),
                           [], ["--sessions", "4", "--steps", "50", "--modes", "asgi", "--num-products", "1000"],
                           webshop_rows),
    "env-alfworld": Section("ALFWorld env", env_family("alfworld"),
                            ["--per-cell", "1", "--speed-games", "6"],
                            ["--per-cell", "1", "--speed-games", "1", "--iteration-groups", "2", "--group-size", "2"],
                            alfworld_rows),
    "env-textworld": Section("TextWorld env", env_family("textworld"),
                             ["--games", "3", "--repeats", "3"], ["--games", "1", "--repeats", "1"], textworld_rows),
    "memory": Section("peak memory", train_run,
                      ["--iterations", "2"], ["--iterations", "1", "--num-groups", "2", "--group-size", "4"],
                      memory_rows),
}


class PeakTreeRss:
    """Largest summed RSS of a process and its descendants seen so far (psutil, sampled by the caller)."""

    def __init__(self) -> None:
        self.peak: int | None = None

    def __call__(self, pid: int) -> None:
        try:
            import psutil

            root = psutil.Process(pid)
            rss = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
        except Exception:  # noqa: BLE001 - psutil missing or the process just ended: keep the last peak
            return
        self.peak = max(self.peak or 0, rss)


def run_logged(argv: list[str], log: Path, timeout: float | None, sample: Callable[[int], None]) -> int:
    """Run ``argv`` (output to ``log``), calling ``sample(pid)`` twice a second; returns ru_maxrss in bytes.

    os.wait4 gives the same counter as getrusage(RUSAGE_CHILDREN), for this child (and its reaped
    descendants) alone: the peak RSS of the largest single process.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env, start_new_session=True)
    start = time.monotonic()
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        sample(proc.pid)
        if timeout and time.monotonic() - start > timeout:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: the family scripts and servers go too
            os.wait4(proc.pid, 0)
            proc.returncode = -signal.SIGKILL
            raise RuntimeError(f"timed out after {timeout:.0f} s")
        time.sleep(0.5)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
    if proc.returncode != 0:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        raise RuntimeError(f"exit code {proc.returncode}: {lines[-1] if lines else 'no output'}")
    return usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)  # bytes on macOS, KiB on Linux


def shown(argv: list[str], work: Path) -> str:
    """The command as a reader would type it from the repository root."""
    def short(arg: str) -> str:
        if arg == sys.executable:
            return "python"
        if arg.startswith(str(work)):
            return "<tmp>" + arg[len(str(work)):]
        return os.path.relpath(arg, ROOT) if arg.startswith(str(ROOT)) else arg
    return " ".join(short(a) for a in argv)


def run_section(name: str, quick: bool, work: Path, timeout: float | None) -> dict:
    section = SECTIONS[name]
    argv = section.argv(section.quick if quick else section.full, work / f"{name}.json")
    result = {"title": section.title, "command": shown(argv, work), "log": str(work / f"{name}.log")}
    print(f"[speed] {name}: {result['command']}", file=sys.stderr, flush=True)
    tree = PeakTreeRss()
    start = time.perf_counter()
    try:
        maxrss = run_logged(argv, work / f"{name}.log", timeout, tree)
        result["process"] = {"ru_maxrss_bytes": maxrss, "psutil_tree_peak_bytes": tree.peak,
                             "command": result["command"]}
        out = work / f"{name}.json"
        result["figures"] = json.loads(out.read_text()) if out.exists() else None
        result["rows"] = section.rows(result["figures"], result["process"])
        result["error"] = None
    except Exception as exc:  # noqa: BLE001 - shown in the table; the other sections go on
        result["rows"], result["error"] = [("error", f"{type(exc).__name__}: {exc}")], str(exc)
        print(f"[speed] {name} failed: {exc} (log: {result['log']})", file=sys.stderr, flush=True)
    result["seconds"] = time.perf_counter() - start
    return result


def machine() -> dict:
    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else None
    return {"date": datetime.now().astimezone().isoformat(timespec="seconds"), "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "memory_bytes": memory, "load_average": os.getloadavg(),
            "versions": {"python": platform.python_version(), **{p: version(p) for p in VERSIONS}}}


def markdown(meta: dict, sizes: str, results: dict[str, dict]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    gib = f"{meta['memory_bytes'] / 2**30:.1f} GiB, " if meta["memory_bytes"] else ""
    lines = ["# Speed figures", "",
             f"{meta['date']}; {meta['platform']}, {meta['cpu_count']} CPUs, {gib}load average "
             f"{' / '.join(f'{x:.2f}' for x in meta['load_average'])} at start; {versions}; {sizes} sizes.", "",
             "| section | figure | value |", "|---|---|---|"]
    for r in results.values():
        lines += [f"| {r['title']} | {figure} | {value.replace('|', '/')} |" for figure, value in r["rows"]]
    lines += ["", "Commands (from the repository root, PYTHONPATH=.):", ""]
    lines += [f"- {r['title']} ({r['seconds']:.0f} s): `{r['command']}`" for r in results.values()]
    return "\n".join(lines) + "\n"


def selected(only: str | None) -> list[str]:
    if not only:
        return list(SECTIONS)
    names = []
    for name in only.split(","):
        expanded = [s for s in SECTIONS if s.startswith("env-")] if name == "env" else [name]
        unknown = [n for n in expanded if n not in SECTIONS]
        if unknown:
            raise SystemExit(f"unknown section {name!r}; choose from {', '.join(SECTIONS)} or env")
        names += [n for n in expanded if n not in names]
    return [n for n in SECTIONS if n in names]  # always in the table's order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke check, not figures to quote)")
    parser.add_argument("--only", default=None, help="comma-separated sections (default: all)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per section before it is killed")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for speed.json and speed.md")
    args = parser.parse_args()
    names = selected(args.only)
    meta = machine()
    work = Path(tempfile.mkdtemp(prefix="agentgym-speed-"))
    print(f"[speed] logs and raw figures in {work}", file=sys.stderr, flush=True)
    results = {name: run_section(name, args.quick, work, args.timeout) for name in names}
    sizes = "quick" if args.quick else "full"
    table = markdown(meta, sizes, results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed.json").write_text(json.dumps({**meta, "sizes": sizes, "sections": results}, indent=2))
    (args.out / "speed.md").write_text(table)
    print(table)
    sys.exit(1 if any(r["error"] for r in results.values()) else 0)


if __name__ == "__main__":
    main()
