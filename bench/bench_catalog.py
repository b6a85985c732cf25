"""Catalog append cost as the catalog grows: appending a run at 10 runs vs at 1,000 runs.

Each run appends ``--rows`` catalog rows (a 35-panel comic: panels, pages, PDF, CBZ)
through :class:`storybench.batch.CatalogWriter`, as the batch engine does. The time
of appending runs 10..19 and of runs 1,000..1,019 is measured (medians), and the
script ends with ``catalog_append_ratio_1000_vs_10=<ratio>`` (target: at most 1.5,
i.e. an append costs the same whatever the catalog's size).

Usage: ``python bench/bench_catalog.py [--runs 1000] [--rows 46]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from storybench.batch import CatalogWriter, read_catalog


def run_rows(run: int, rows: int) -> list[dict]:
    now = datetime.now(UTC)
    out = []
    for i in range(rows):
        kind = "panel" if i < rows - 11 else ("page" if i < rows - 2 else ("pdf" if i == rows - 2 else "cbz"))
        out.append(
            {
                "run_id": f"20260101-000000-{run:06d}",
                "plan_id": "bench-plan",
                "plan_sha256": "ab" * 32,
                "chapter_id": "ch1",
                "page_number": 1 + i // 4,
                "panel_id": f"pan{i}" if kind == "panel" else None,
                "artifact_id": f"{kind}-{i}",
                "kind": kind,
                "backend": "storyboard",
                "prompt": "a long prompt " * 20,
                "seed": 1234 + i,
                "width": 1024,
                "height": 1536,
                "path": f"bench-plan/run/panels/pan{i}.png",
                "sha256": f"{run:032x}{i:032x}",
                "bytes": 123456,
                "cache_key": f"{i:064x}",
                "status": "completed",
                "attempts": 1,
                "cache_hit": False,
                "started_at": now,
                "finished_at": now,
                "seconds": 1.5,
                "metrics": "{}",
            }
        )
    return out


def append_run(out: Path, run: int, rows: int) -> float:
    writer = CatalogWriter(out, batch_rows=rows + 1, flush_seconds=3600)
    batch = run_rows(run, rows)
    t0 = time.perf_counter()
    for row in batch:
        writer.add(row)
    writer.flush()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=46, help="catalog rows per run")
    parser.add_argument("--sample", type=int, default=10, help="appends timed at each size")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds: CI runs every bench so")
    args = parser.parse_args()
    if args.smoke:
        args.runs, args.rows, args.sample = 12, 4, 2
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        small, large = [], []
        for run in range(args.runs + args.sample):
            seconds = append_run(out, run, args.rows)
            if 10 <= run < 10 + args.sample:
                small.append(seconds)
            elif run >= args.runs:
                large.append(seconds)
        t0 = time.perf_counter()
        rows = len(read_catalog(out))
        read_seconds = time.perf_counter() - t0
        files = len(list((out / "catalog.d").glob("*.parquet")))
    at_small, at_large = statistics.median(small), statistics.median(large)
    print(f"rows per run: {args.rows}; catalog at the end: {rows} rows in {args.runs + args.sample} runs")
    print(f"append at 10 runs: {at_small * 1000:.2f} ms (median of {len(small)})")
    print(f"append at {args.runs} runs: {at_large * 1000:.2f} ms (median of {len(large)})")
    print(f"mean append at {args.runs} runs (level merges included): {statistics.mean(large) * 1000:.2f} ms")
    print(f"read_catalog of the whole catalog ({files} files): {read_seconds * 1000:.0f} ms")
    print(f"catalog_append_ratio_1000_vs_10={at_large / at_small:.2f}")


if __name__ == "__main__":
    main()
