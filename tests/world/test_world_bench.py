"""bench/bench_context.py --smoke prints both of its result lines (CI runs every bench so)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_context_smoke_prints_both_lines():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_context.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=True,
    )
    lines = done.stdout.splitlines()
    build = next(line for line in lines if line.startswith("context_build_ms_1000_entries="))
    recall = next(line for line in lines if line.startswith("semantic_recall_at_5="))
    assert float(build.split("=")[1]) > 0
    assert recall.split("=")[1] == "nan" or 0 <= float(recall.split("=")[1]) <= 1
