"""The parquet catalog: schema, upsert, and concurrent writers in separate processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from storybench.batch import CATALOG_COLUMNS, CatalogWriter, read_catalog, upsert_catalog_rows

HERE = Path(__file__).resolve().parents[1]  # the tests folder (support scripts)
ROOT = HERE.parent


def row(run_id: str, artifact: str, **kw):
    base = {
        "run_id": run_id,
        "kind": "panel",
        "artifact_id": artifact,
        "panel_id": artifact,
        "status": "completed",
        "attempts": 1,
        "cache_hit": False,
        "started_at": datetime.now(UTC),
        "metrics": "{}",
    }
    base.update(kw)
    return base


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(HERE), str(Path(__file__).resolve().parent)])
    return e


def test_empty_catalog_has_the_columns(tmp_path):
    df = read_catalog(tmp_path)
    assert df.empty and list(df.columns) == list(CATALOG_COLUMNS)
    for name in (
        "run_id",
        "plan_id",
        "plan_sha256",
        "chapter_id",
        "page_number",
        "panel_id",
        "kind",
        "backend",
        "workflow",
        "prompt",
        "negative_prompt",
        "seed",
        "width",
        "height",
        "path",
        "sha256",
        "bytes",
        "status",
        "error",
        "attempts",
        "cache_hit",
        "started_at",
        "finished_at",
        "seconds",
        "queue_seconds",
        "execution_seconds",
        "metrics",
        "vram_free_before",
        "vram_free_after",
        "delay_time_ms",
        "execution_time_ms",
        "cost",
    ):
        assert name in df.columns


def test_upsert_replaces_rows_with_the_same_key(tmp_path):
    upsert_catalog_rows(tmp_path, [row("r1", "a", status="failed", error="boom"), row("r1", "b")])
    upsert_catalog_rows(tmp_path, [row("r1", "a", attempts=2), row("r2", "a"), row("r1", "a", kind="page")])
    df = read_catalog(tmp_path)
    assert len(df) == 4 and not df.duplicated(["run_id", "kind", "artifact_id"]).any()
    a = df[(df.run_id == "r1") & (df.kind == "panel") & (df.artifact_id == "a")].iloc[0]
    assert a.status == "completed" and a.attempts == 2 and pd.isna(a.error)
    assert str(df.page_number.dtype) == "Int64" and str(df.started_at.dtype).startswith("datetime64")


def test_writer_batches_rows(tmp_path):
    writer = CatalogWriter(tmp_path, batch_rows=3, flush_seconds=3600)
    writer.add(row("r", "1"))
    writer.add(row("r", "2"))
    assert read_catalog(tmp_path).empty
    writer.add(row("r", "3"))
    assert len(read_catalog(tmp_path)) == 3 and writer.flushes == 1
    writer.add(row("r", "4"))
    writer.flush()
    assert len(read_catalog(tmp_path)) == 4 and writer.flushes == 2


WRITER = """
import sys
from storybench.batch import upsert_catalog_rows
from test_catalog import row
out, run_id = sys.argv[1], sys.argv[2]
for i in range(0, 40, 4):
    upsert_catalog_rows(out, [row(run_id, f"p{i + k}") for k in range(4)])
"""


def test_two_processes_upserting_at_once_lose_nothing(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), f"run{n}"], env=env()) for n in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    df = read_catalog(tmp_path)
    assert len(df) == 80 and sorted(df.run_id.unique()) == ["run0", "run1"]
    assert not df.duplicated(["run_id", "kind", "artifact_id"]).any()


def test_two_renders_into_one_output_dir_at_once(tmp_path):
    script = HERE / "engine_render_script.py"
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(tmp_path), plan_id, "0.005"], env=env(), stdout=subprocess.PIPE, text=True
        )
        for plan_id in ("comic-a", "comic-b")
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    runs = {json.loads(o.strip().splitlines()[-1])["run_id"] for o in outs}
    df = read_catalog(tmp_path)
    assert set(df.run_id) == runs
    per_plan = df.groupby("plan_id").size().to_dict()
    assert per_plan == {"comic-a": 13 + 6, "comic-b": 13 + 6}  # 13 panels, 4 pages, PDF, CBZ
    assert (df.status == "completed").all()
