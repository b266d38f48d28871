"""Environment speed figures: runs each environment family's benchmark script in turn.

    python bench/env_speed.py                  # every family
    python bench/env_speed.py webshop -- --sessions 8 --steps 200   # one family, extra flags passed on

Each family's script (``bench/env_speed_<family>.py``) compares our environment against the raw
engine on the same games (reset/step times, wrapper overhead) and prints its own table.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def families() -> list[str]:
    return sorted(p.stem.removeprefix("env_speed_") for p in HERE.glob("env_speed_*.py"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("family", nargs="*", help=f"one or more of {families()} (default: all)")
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    status = 0
    for family in args.family or families():
        script = HERE / f"env_speed_{family}.py"
        if not script.exists():
            raise SystemExit(f"no benchmark for {family!r}; choose from {families()}")
        print(f"\n=== {family} ===", flush=True)
        status |= subprocess.run([sys.executable, str(script), *extra]).returncode
    sys.exit(status)


if __name__ == "__main__":
    main()
