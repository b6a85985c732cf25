"""Fuzz ``parse_plan`` and ``load_plan`` with many more mutated plans than the CI test.

Usage: ``python bench/bench_fuzz.py [--cases 5250] [--start 0]`` (each case is fed to
both functions, so 5,250 cases make 10,500 outcomes). Prints the summary line
``N cases, valid / clean error / other = a / b / c`` and every "other" outcome;
exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from plan_fuzz import run_cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=5250)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds: CI runs every bench so")
    args = parser.parse_args()
    if args.smoke:
        args.cases = 40
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        report = run_cases(args.start, args.cases, Path(tmp))
    for line in report.others:
        print(line)
    print(f"{time.perf_counter() - t0:.1f} s")
    print(report.summary())
    return 1 if report.outcomes["other"] else 0


if __name__ == "__main__":
    sys.exit(main())
