"""The output catalog: one row per artifact of a run, stored as a small Parquet dataset.

On disk, in the output folder:

* ``catalog.d/run-<run_id>.parquet``: the rows of one run, rewritten (atomically)
  each time that run's rows are flushed, so appending costs the same whether the
  catalog holds 100 rows or a million;
* ``catalog.d/L<k>-<time>.parquet``: merged segments. When :data:`FANOUT` files of
  one level exist (run files are level 0), an append merges them into one file of
  the next level, so a catalog of *n* runs has at most ``FANOUT`` files per level and
  ``log(n)`` levels, and each row is rewritten ``log(n)`` times over its life: the
  amortized cost of an append grows with the logarithm of the catalog, its typical
  cost not at all;
* ``catalog.parquet``: the compacted base, everything merged by
  :func:`compact_catalog` (``storybench prune`` compacts), whose other files are then
  deleted. A folder written before the per-run files existed has only this file.

Newer data wins: the base, then levels from the highest to level 0, each in name
(time) order; every merge of a level takes all of its files, so this is time order.

Rows are keyed by ``(run_id, kind, artifact_id)``: writing a row whose key exists
replaces it (upsert), so a resumed or retried run never leaves two rows for one
artifact; when a key is in the base and in a run file, the run file wins. Writes
and compaction hold ``catalog.parquet.lock`` (a :mod:`filelock` lock, so several
processes can render into one output folder at once); every file is replaced
atomically, and readers list the run files before reading the base and retry if
one vanished (compacted meanwhile), so they never see a torn or half-compacted catalog.

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
``delay_time_ms``, ``execution_time_ms``, ``cost``), and ``warnings``: the list of a
page's lettering warnings (null when all its text fits). Every text but the
identifiers, hashes and paths is redacted before it is written
(:func:`storybench.redact.redact`: a URL's password, a bearer token...).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from filelock import FileLock

from storybench.batch.catalog_row import FLAT_METRICS, CatalogRow, flat_metrics, metrics_json
from storybench.files import atomic_write_bytes
from storybench.redact import environment_secrets, redact

__all__ = [
    "CATALOG_COLUMNS",
    "CATALOG_FILE",
    "CATALOG_RUNS_DIR",
    "CATALOG_SCHEMA",
    "FLAT_METRICS",
    "CatalogRow",
    "CatalogWriter",
    "compact_catalog",
    "flat_metrics",
    "metrics_json",
    "read_catalog",
    "read_catalog_table",
    "read_run_catalog_table",
    "run_file",
    "upsert_catalog_rows",
]

CATALOG_FILE = "catalog.parquet"
#: Folder of the per-run files, beside :data:`CATALOG_FILE`.
CATALOG_RUNS_DIR = "catalog.d"
#: Files of one level merged into one file of the next level.
FANOUT = 32
_SAFE_RUN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")

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


#: Columns that hold identifiers and hashes only (never redacted).
_PLAIN = frozenset({"run_id", "plan_id", "plan_sha256", "chapter_id", "panel_id", "artifact_id", "kind", "status"})
_PLAIN |= {"sha256", "cache_key", "path", "backend", "backend_version"}


def _as_row(row: CatalogRow | Mapping[str, Any]) -> dict[str, Any]:
    """A row as column name to value, every text redacted (:func:`storybench.redact.redact`:
    a server URL's password, a token in an error message...); a mapping is checked by
    :meth:`CatalogRow.from_mapping`."""
    values = (row if isinstance(row, CatalogRow) else CatalogRow.from_mapping(row)).to_dict()
    secrets = environment_secrets()
    for name, value in values.items():
        if name not in _PLAIN and isinstance(value, str) and value:
            values[name] = redact(value, secrets, environ={})
        elif isinstance(value, list):
            values[name] = [redact(v, secrets, environ={}) if isinstance(v, str) else v for v in value]
    return values


def run_file(output_dir: str | os.PathLike[str], run_id: str | None) -> Path:
    """Where the rows of ``run_id`` are written: ``catalog.d/run-<run_id>.parquet`` (a hash for odd ids)."""
    name = run_id or ""
    if not _SAFE_RUN.fullmatch(name):
        name = "h-" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return Path(output_dir) / CATALOG_RUNS_DIR / f"run-{name}.parquet"


def _level(path: Path) -> int | None:
    name = path.name
    if path.suffix != ".parquet":
        return None
    if name.startswith("run-"):
        return 0
    match = re.fullmatch(r"L(\d+)-[0-9a-f-]+\.parquet", name)
    return int(match.group(1)) if match else None


def _levels(output_dir: Path) -> dict[int, list[Path]]:
    """The dataset's files by level, each level in name order."""
    folder = output_dir / CATALOG_RUNS_DIR
    try:
        names = list(folder.iterdir())
    except FileNotFoundError:
        return {}
    levels: dict[int, list[Path]] = {}
    for path in names:
        level = _level(path)
        if level is not None:
            levels.setdefault(level, []).append(path)
    return {k: sorted(v, key=lambda p: p.name) for k, v in levels.items()}


def _run_files(output_dir: Path) -> list[Path]:
    """Every dataset file in precedence order: highest level first, run files (level 0) last."""
    levels = _levels(output_dir)
    return [p for k in sorted(levels, reverse=True) for p in levels[k]]


def _merge_levels(output_dir: Path) -> None:
    """Merge any level holding :data:`FANOUT` files into one file of the next level (under the lock)."""
    level = 0
    while True:
        files = _levels(output_dir).get(level, [])
        if len(files) < FANOUT:
            return
        tables = [t for t in _read_files(files) if t is not None]
        merged = _dedup(pa.concat_tables(tables)) if tables else CATALOG_SCHEMA.empty_table()
        name = f"L{level + 1}-{time.time_ns():020d}-{secrets.token_hex(3)}.parquet"
        _write_table(output_dir / CATALOG_RUNS_DIR / name, merged)
        for path in files:
            path.unlink(missing_ok=True)
        level += 1


def _read_files(paths: list[Path]) -> list[pa.Table | None]:
    """Read files in order (a few threads; Parquet decoding releases the GIL); ``None`` for a vanished one."""
    if len(paths) < 4:
        return [_read_file(p) for p in paths]
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(_read_file, paths))


def _read_file(path: Path) -> pa.Table | None:
    """One file, read whole through one open descriptor (``None`` when it vanished).

    Parquet readers given a path may open it more than once (footer, then row
    groups); a writer renaming a new file over it in between would hand them the
    footer of one file and the pages of another. One descriptor reads one inode.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return None
    return _conform(pq.read_table(pa.BufferReader(data)))


def _signature(output_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, inode and change time of every finished catalog file: equal before and
    after a read means no writer replaced, added or removed one meanwhile."""
    signature = []
    for path in (output_dir / CATALOG_FILE, *_run_files(output_dir)):
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        signature.append((path.name, st.st_ino, st.st_mtime_ns))
    return tuple(sorted(signature))


def _dedup(table: pa.Table) -> pa.Table:
    """``table`` with one row per key, the last one (later files win)."""
    if table.num_rows < 2:
        return table
    keys = _key_column(table)
    if pc.count_distinct(keys).as_py() == table.num_rows:
        return table
    last: dict[str, int] = {}
    for i, key in enumerate(keys.to_pylist()):
        last[key] = i
    return table.take(pa.array(sorted(last.values()), type=pa.int64()))


def read_catalog_table(output_dir: str | os.PathLike[str]) -> pa.Table:
    """The catalog of ``output_dir`` as a :class:`pyarrow.Table` (empty, with the
    columns, when there is none yet): the compacted base then every run file, one row
    per key.

    Raises:
        OSError: a file exists but cannot be read.
    """
    out = Path(output_dir)
    for attempt in range(200):
        before = _signature(out)
        parts = _run_files(out)  # listed before the base is read: see the module docstring
        base = _read_file(out / CATALOG_FILE)
        rest = _read_files(parts)
        if any(t is None for t in rest) or _signature(out) != before:
            time.sleep(min(0.001 * attempt, 0.05))  # a writer is replacing files: read again
            continue
        tables = [t for t in (base, *rest) if t is not None and t.num_rows]
        if not tables:
            return CATALOG_SCHEMA.empty_table()
        return _dedup(pa.concat_tables(tables))
    raise OSError(f"{out / CATALOG_RUNS_DIR}: catalog files keep changing while reading the catalog")


def read_run_catalog_table(output_dir: str | os.PathLike[str], run_id: str) -> pa.Table:
    """The rows of one run (for resuming it): the catalog filtered by ``run_id``."""
    table = read_catalog_table(output_dir)
    return table.filter(pc.equal(table.column("run_id"), run_id))


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


def _write_table(path: Path, table: pa.Table) -> None:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    atomic_write_bytes(path, buf.getvalue())


def upsert_catalog_rows(output_dir: str | os.PathLike[str], rows: Iterable[CatalogRow | Mapping[str, Any]]) -> int:
    """Insert or replace rows (by ``(run_id, kind, artifact_id)``) in the catalog of
    ``output_dir``, under the catalog lock: each run's file is read, merged and
    replaced atomically; the other runs' files are not touched.

    Args:
        output_dir: the output folder.
        rows: :class:`CatalogRow` records, or mappings of column name to value
            (missing columns are null). A later row wins over an earlier one with
            the same key.

    Returns:
        The number of rows in the run files written (after the upsert).

    Raises:
        ValueError: a mapping has a key that is not a catalog column, or lacks a key column.
        OSError: the folder cannot be written.
    """
    new_rows = [_as_row(r) for r in rows]
    out = Path(output_dir)
    if not new_rows:
        return 0
    by_run: dict[str | None, dict[tuple, dict[str, Any]]] = {}
    for r in new_rows:
        by_run.setdefault(r["run_id"], {})[tuple(r[k] or "" for k in _KEY)] = r
    (out / CATALOG_RUNS_DIR).mkdir(parents=True, exist_ok=True)
    written = 0
    with _lock(out / CATALOG_FILE):
        for run_id, dedup in by_run.items():
            path = run_file(out, run_id)
            new = pa.Table.from_pylist(list(dedup.values()), schema=CATALOG_SCHEMA)
            existing = _read_file(path)
            if existing is not None and existing.num_rows:
                keep = pc.invert(pc.is_in(_key_column(existing), value_set=_key_column(new)))
                new = pa.concat_tables([existing.filter(keep), new])
            _write_table(path, new)
            written += new.num_rows
        _merge_levels(out)
    return written


def compact_catalog(
    output_dir: str | os.PathLike[str],
    *,
    drop_runs: Iterable[str] = (),
    keep_runs: Callable[[], set[str]] | None = None,
) -> int:
    """Merge every run file into ``catalog.parquet`` and delete them, optionally
    dropping the rows of some runs (``storybench prune``). Costs a read and a write of
    the whole catalog; appends never need it. The new base is renamed into place
    before the merged files are deleted, so a reader sees the old files or the new
    base (and, in between, both, whose rows are equal).

    Args:
        output_dir: the output folder.
        drop_runs: run ids whose rows are removed.
        keep_runs: called under the catalog lock: the only run ids whose rows are
            kept (rows without a run id are always kept); ``None``: all.

    Returns:
        The number of rows in the catalog afterwards.

    Raises:
        OSError: the folder cannot be written.
    """
    out = Path(output_dir)
    drop = set(drop_runs)
    with _lock(out / CATALOG_FILE):
        parts = _run_files(out)
        base = _read_file(out / CATALOG_FILE)
        if not parts and base is None:
            return 0
        tables = ([base] if base is not None else []) + [t for t in _read_files(parts) if t is not None]
        table = _dedup(pa.concat_tables(tables)) if tables else CATALOG_SCHEMA.empty_table()
        run_ids = pc.fill_null(table.column("run_id"), "")
        if drop:
            table = table.filter(pc.invert(pc.is_in(run_ids, value_set=pa.array(sorted(drop), type=pa.string()))))
        if keep_runs is not None:
            keep = pa.array(sorted(keep_runs() | {""}), type=pa.string())
            table = table.filter(pc.is_in(pc.fill_null(table.column("run_id"), ""), value_set=keep))
        _write_table(out / CATALOG_FILE, table)
        for part in parts:
            part.unlink(missing_ok=True)
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
