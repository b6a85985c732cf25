"""The catalog row record: its fields are the catalog's columns, and unknown keys are errors."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from engine_support import FakeBackend, SimpleComposer, make_plan, small_settings

from storybench.batch import (
    CATALOG_COLUMNS,
    CATALOG_SCHEMA,
    FLAT_METRICS,
    CatalogWriter,
    read_catalog_table,
    render_plan,
)
from storybench.batch import upsert_catalog_rows as upsert
from storybench.batch.catalog_row import CatalogRow


def test_record_fields_are_the_catalog_columns():
    names = [f.name for f in dataclasses.fields(CatalogRow)]
    assert set(names) == set(CATALOG_SCHEMA.names) == set(CATALOG_COLUMNS)
    assert names == list(CATALOG_SCHEMA.names)  # same order too
    assert set(FLAT_METRICS) <= set(names)


def test_arrow_types_follow_the_annotations():
    types = {f.name: f.type for f in CATALOG_SCHEMA}
    assert types["page_number"] == pa.int64() and types["seed"] == pa.int64() and types["bytes"] == pa.int64()
    assert types["cache_hit"] == pa.bool_()
    assert types["started_at"] == pa.timestamp("us", tz="UTC")
    assert types["prompt"] == pa.string() and types["metrics"] == pa.string()
    assert all(types[m] == pa.float64() for m in FLAT_METRICS)
    assert all(f.nullable for f in CATALOG_SCHEMA)


def test_a_new_field_is_a_new_column():
    @dataclasses.dataclass(kw_only=True)
    class WithMore(CatalogRow):
        gpu_name: str | None = None
        peak_vram_gib: float | None = None
        warnings: list[str] | None = None

    schema = WithMore.arrow_schema()
    assert schema.names[-3:] == ["gpu_name", "peak_vram_gib", "warnings"]
    assert schema.field("peak_vram_gib").type == pa.float64()
    assert schema.field("warnings").type == pa.list_(pa.string())

    @dataclasses.dataclass(kw_only=True)
    class Bad(CatalogRow):
        blob: dict[str, int] | None = None

    with pytest.raises(TypeError, match=r"Bad\.blob"):
        Bad.arrow_schema()


def test_misspelled_column_is_an_error():
    with pytest.raises(TypeError):
        CatalogRow(run_id="r", kind="panel", artifact_id="a", cachehit=True)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="'cachehit'"):
        CatalogRow.from_mapping({"run_id": "r", "kind": "panel", "artifact_id": "a", "cachehit": True})
    with pytest.raises(ValueError, match="artifact_id"):
        CatalogRow.from_mapping({"run_id": "r", "kind": "panel"})


def test_upsert_and_writer_reject_unknown_keys(tmp_path):
    row = {"run_id": "r", "kind": "panel", "artifact_id": "a", "statu": "completed"}
    with pytest.raises(ValueError, match="'statu'"):
        upsert(tmp_path, [row])
    writer = CatalogWriter(tmp_path, batch_rows=10)
    with pytest.raises(ValueError, match="'statu'"):
        writer.add(row)
    assert not (tmp_path / "catalog.parquet").exists()


def test_records_and_mappings_upsert_alike(tmp_path):
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    record = CatalogRow(run_id="r", kind="panel", artifact_id="a", status="completed", started_at=when, cost=0.5)
    assert upsert(tmp_path, [record, {"run_id": "r", "kind": "page", "artifact_id": "b", "cost": float("nan")}]) == 2
    table = read_catalog_table(tmp_path)
    rows = {r["artifact_id"]: r for r in table.to_pylist()}
    assert rows["a"]["cost"] == 0.5 and rows["a"]["started_at"] == when and rows["a"]["status"] == "completed"
    assert rows["b"]["cost"] is None and rows["b"]["status"] is None  # NaN stored as null


def test_engine_rows_have_exactly_the_catalog_columns(tmp_path):
    summary = render_plan(
        make_plan(),
        backend=FakeBackend(metrics={"cost": 0.001, "workflow": "wf"}),
        output_dir=tmp_path,
        settings=small_settings(),
        composer=SimpleComposer().composer(),
        progress=False,
    )
    assert summary.ok and summary.rows
    for row in summary.rows:
        assert list(row) == list(CATALOG_COLUMNS)
    panel = next(r for r in summary.rows if r["kind"] == "panel")
    assert panel["cost"] == 0.001 and panel["workflow"] == "wf" and panel["backend"] == "fake"
    pdf = next(r for r in summary.rows if r["kind"] == "pdf")
    assert pdf["backend"] is None and pdf["prompt"] is None and pdf["panel_id"] is None
