"""Readers of the catalog always read a whole, consistent catalog: 1,000 reads while two
renders (separate processes) append rows, another process compacts the catalog in a
loop, another prunes and another rewrites run files as fast as it can (a render
flushing every row), with 0 errors and 0 torn snapshots (one row per key)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.compute as pc
import pytest

from storybench.batch.catalog import _key_column, read_catalog, read_catalog_table

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
ROOT = TESTS.parent

LOOP = r"""
import sys, time
from pathlib import Path
from storybench.batch.catalog import compact_catalog, upsert_catalog_rows
from storybench.batch.prune import prune_outputs
out, what, seconds = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
end = time.monotonic() + seconds
n = 0
while time.monotonic() < end or n < 3:
    if what == "compact":
        compact_catalog(out)
    elif what == "flush":  # a render flushing its rows one at a time (CatalogWriter with batch_rows=1)
        run = f"flusher-{n % 3}"
        rows = [{"run_id": run, "kind": "panel", "artifact_id": f"a{j}", "attempts": n} for j in range(n % 40 + 1)]
        upsert_catalog_rows(out, rows)
    else:
        prune_outputs(out, keep=1)
    n += 1
    time.sleep(0.01 if what != "flush" else 0)
print(n)
"""


def env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS)]))


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args], env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
def test_a_thousand_reads_during_renders_compaction_and_prune(tmp_path):
    out = tmp_path / "out"
    script = str(TESTS / "engine_render_script.py")
    first = start(script, str(out), "reader-a", "0")  # some rows and runs before the storm
    assert first.wait(timeout=300) == 0, first.stderr.read() if first.stderr else ""
    writers = [start(script, str(out), "reader-b", "0.01", "1"), start(script, str(out), "reader-c", "0.01", "1")]
    loops = [start("-c", LOOP, str(out), what, "25") for what in ("compact", "prune", "flush")]
    errors: list[str] = []
    sizes = []
    reads = 0
    started = time.monotonic()
    while reads < 1000:
        try:
            table = read_catalog_table(out) if reads % 2 else read_catalog(out)
            n = table.num_rows if hasattr(table, "num_rows") else len(table)
            if hasattr(table, "num_rows") and n:
                assert pc.count_distinct(_key_column(table)).as_py() == n  # one row per key
            sizes.append(n)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        reads += 1
    seconds = time.monotonic() - started
    outcomes = [p.wait(timeout=300) for p in writers + loops]
    assert errors == [], errors[:5]
    assert outcomes == [0, 0, 0, 0, 0], [p.stderr.read() for p in writers + loops if p.stderr]
    assert reads == 1000 and max(sizes) > 0
    print(f"1000 reads in {seconds:.1f} s, 0 errors; rows seen {min(sizes)}..{max(sizes)}")
