"""The output catalog: ``<output_dir>/catalog.parquet``, one row per artifact of a run.

Rows are keyed by ``(run_id, kind, artifact_id)``: writing a row whose key exists
replaces it (upsert), so a resumed or retried run never leaves two rows for one
artifact. Every write holds ``catalog.parquet.lock`` (a :mod:`filelock` lock, so
several processes can render into one output folder at once) around
read-modify-write, and replaces the file atomically (temporary file + rename), so
readers never see a torn file.

Columns (declared once, by :class:`~storybench.batch.catalog_row.CatalogRow`;
:data:`CATALOG_SCHEMA` is derived from it): identity (``run_id``, ``plan_id``,
``plan_sha256``, ``chapter_id``, ``page_number``, ``panel_id``, ``artifact_id``,
``kind``), render inputs (``backend``, ``backend_version``, ``workflow``,
``prompt``, ``negative_prompt``, ``seed``, ``width``, ``height`` in pixels), the
file (``path`` relative to the output folder, ``sha256``, ``bytes``,
``cache_key``), the outcome (``status``, ``error``, ``attempts``, ``cache_hit``,
``started_at``/``finished_at`` UTC, ``seconds``), timings (``queue_seconds``: the
server's own queue time; ``wait_seconds``: the engine's wait for a thread;
``execution_seconds``), ``server`` (which server rendered it), the backend's ``metrics`` as JSON text, and the known
numeric metrics flattened (``vram_free_before``, ``vram_free_after`` in bytes,
``delay_time_ms``, ``execution_time_ms``, ``cost``).
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from filelock import FileLock

from storybench.batch.catalog_row import FLAT_METRICS, CatalogRow, flat_metrics, metrics_json
from storybench.io import atomic_write_bytes

__all__ = [
    "CATALOG_COLUMNS",
    "CATALOG_FILE",
    "CATALOG_SCHEMA",
    "FLAT_METRICS",
    "CatalogRow",
    "CatalogWriter",
    "flat_metrics",
    "metrics_json",
    "read_catalog",
    "read_catalog_table",
    "upsert_catalog_rows",
]

CATALOG_FILE = "catalog.parquet"

#: The catalog's Arrow schema, derived from :class:`CatalogRow` (the one place columns are declared).
CATALOG_SCHEMA = CatalogRow.arrow_schema()
CATALOG_COLUMNS: tuple[str, ...] = tuple(CATALOG_SCHEMA.names)
_KEY = ("run_id", "kind", "artifact_id")


def _lock(path: Path) -> FileLock:
    return FileLock(str(path) + ".lock")


def _conform(table: pa.Table) -> pa.Table:
    """``table`` with exactly the catalog columns (missing ones as nulls), cast to the schema."""
    columns = []
    for f in CATALOG_SCHEMA:
        if f.name in table.column_names:
            columns.append(table.column(f.name).cast(f.type))
        else:
            columns.append(pa.nulls(table.num_rows, type=f.type))
    return pa.Table.from_arrays(columns, schema=CATALOG_SCHEMA)


def _as_row(row: CatalogRow | Mapping[str, Any]) -> dict[str, Any]:
    """A row as column name to value; a mapping is checked by :meth:`CatalogRow.from_mapping`."""
    return (row if isinstance(row, CatalogRow) else CatalogRow.from_mapping(row)).to_dict()


def read_catalog_table(output_dir: str | os.PathLike[str]) -> pa.Table:
    """The catalog of ``output_dir`` as a :class:`pyarrow.Table` (empty, with the
    columns, when there is none yet).

    Raises:
        OSError: the file exists but cannot be read.
    """
    path = Path(output_dir) / CATALOG_FILE
    if not path.exists():
        return CATALOG_SCHEMA.empty_table()
    return _conform(pq.read_table(path))


def read_catalog(output_dir: str | os.PathLike[str] = "outputs"):
    """The catalog of ``output_dir`` as a :class:`pandas.DataFrame`, one row per
    artifact with the columns of :data:`CATALOG_COLUMNS` (an empty frame with those
    columns when nothing was rendered there yet). Integer columns use pandas'
    nullable ``Int64`` (``page_number`` is ``<NA>`` for a PDF row), times are UTC.

    Raises:
        OSError: the file exists but cannot be read.
    """
    import pandas as pd

    mapping = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    return read_catalog_table(output_dir).to_pandas(types_mapper=mapping.get)


def _key_column(table: pa.Table) -> pa.Array:
    parts = [pc.fill_null(table.column(k), "") for k in _KEY]
    return pc.binary_join_element_wise(*parts, "\x1f")


def upsert_catalog_rows(output_dir: str | os.PathLike[str], rows: Iterable[CatalogRow | Mapping[str, Any]]) -> int:
    """Insert or replace rows (by ``(run_id, kind, artifact_id)``) in the catalog of
    ``output_dir``, under the catalog lock, replacing the file atomically.

    Args:
        output_dir: the output folder holding ``catalog.parquet``.
        rows: :class:`CatalogRow` records, or mappings of column name to value
            (missing columns are null). A later row wins over an earlier one with
            the same key.

    Returns:
        The number of rows in the catalog afterwards.

    Raises:
        ValueError: a mapping has a key that is not a catalog column, or lacks a key column.
        OSError: the folder cannot be written.
    """
    new_rows = [_as_row(r) for r in rows]
    path = Path(output_dir) / CATALOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock(path):
        existing = read_catalog_table(output_dir)
        if not new_rows:
            return existing.num_rows
        dedup: dict[tuple, dict[str, Any]] = {}
        for r in new_rows:
            dedup[tuple(r[k] or "" for k in _KEY)] = r
        new = pa.Table.from_pylist(list(dedup.values()), schema=CATALOG_SCHEMA)
        if existing.num_rows:
            keep = pc.invert(pc.is_in(_key_column(existing), value_set=_key_column(new)))
            existing = existing.filter(keep)
            table = pa.concat_tables([existing, new])
        else:
            table = new
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        atomic_write_bytes(path, buf.getvalue())
        return table.num_rows


class CatalogWriter:
    """Buffers catalog rows and upserts them in batches.

    Rows are flushed when ``batch_rows`` are waiting or ``flush_seconds`` have passed
    since the last flush (checked on :meth:`add`), and on :meth:`flush`. Not
    thread-safe: the batch engine calls it from one thread.

    Args:
        output_dir: the output folder.
        batch_rows: flush when this many rows are waiting.
        flush_seconds: flush when the oldest waiting row is this old, seconds.
    """

    def __init__(self, output_dir: str | os.PathLike[str], *, batch_rows: int = 64, flush_seconds: float = 2.0) -> None:
        self.output_dir = Path(output_dir)
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self._rows: list[dict[str, Any]] = []
        self._since: float | None = None
        self.flushes = 0

    def add(self, row: CatalogRow | Mapping[str, Any]) -> None:
        """Queue one row; may flush (see class doc).

        Raises:
            ValueError: a mapping has a key that is not a catalog column, or lacks a key column.
        """
        if self._since is None:
            self._since = time.monotonic()
        self._rows.append(_as_row(row))
        if len(self._rows) >= self.batch_rows or time.monotonic() - self._since >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Write every waiting row now."""
        if not self._rows:
            return
        rows, self._rows, self._since = self._rows, [], None
        upsert_catalog_rows(self.output_dir, rows)
        self.flushes += 1
