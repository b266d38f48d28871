"""Environment speed figures: runs each environment family's benchmark script in turn.

    python bench/env_speed.py                  # every family
    python bench/env_speed.py webshop -- --sessions 8 --steps 200   # one family, extra flags passed on
    python bench/env_speed.py textworld --json out.json -- --games 1   # figures as {family: {...}}

Each family's script (``bench/env_speed_<family>.py``) compares our environment against the raw
engine on the same games (reset/step times, wrapper overhead) and prints its own table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def families() -> list[str]:
    return sorted(p.stem.removeprefix("env_speed_") for p in HERE.glob("env_speed_*.py"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("family", nargs="*", help=f"one or more of {families()} (default: all)")
    parser.add_argument("--json", type=Path, default=None,
                        help="write each family's figures (or its exit code) to this JSON file")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)  # flags after '--' belong to the family scripts
    args, extra = parser.parse_known_args(argv[:cut])
    extra += argv[cut + 1:]
    status, figures = 0, {}
    for family in args.family or families():
        script = HERE / f"env_speed_{family}.py"
        if not script.exists():
            raise SystemExit(f"no benchmark for {family!r}; choose from {families()}")
        print(f"\n=== {family} ===", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "figures.json"
            proc = subprocess.run([sys.executable, str(script), *extra, *(["--json", str(out)] if args.json else [])])
            status |= proc.returncode
            figures[family] = json.loads(out.read_text()) if out.exists() else {"error": f"exit code {proc.returncode}"}
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    sys.exit(status)


if __name__ == "__main__":
    main()
