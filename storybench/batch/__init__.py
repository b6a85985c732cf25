"""The batch engine and the output catalog.

:func:`render_plan` renders a comic plan through an image backend — panels, pages,
PDF and CBZ — with retries, a content-addressed cache, crash-safe resume and one
catalog row per artifact in ``<output_dir>/catalog.parquet`` (:func:`read_catalog`).
"""

from storybench.batch.cache import ArtifactCache, CacheEntry, materialize_file
from storybench.batch.catalog import (
    CATALOG_COLUMNS,
    CATALOG_FILE,
    CATALOG_SCHEMA,
    FLAT_METRICS,
    CatalogWriter,
    read_catalog,
    read_catalog_table,
    upsert_catalog_rows,
)
from storybench.batch.composer import Composer
from storybench.batch.engine import BatchEngine, ProgressEvent, page_file_name, render_plan
from storybench.batch.jobs import Job, JobKind, JobState, call_with_retries, is_transient
from storybench.batch.references import character_sheet_spec
from storybench.batch.runs import (
    RUN_MANIFEST,
    find_resumable_run,
    list_runs,
    new_run_id,
    read_manifest,
    settings_fingerprint,
)
from storybench.batch.summary import RunCounts, RunSummary

__all__ = [
    "CATALOG_COLUMNS",
    "CATALOG_FILE",
    "CATALOG_SCHEMA",
    "FLAT_METRICS",
    "RUN_MANIFEST",
    "ArtifactCache",
    "BatchEngine",
    "CacheEntry",
    "CatalogWriter",
    "Composer",
    "Job",
    "JobKind",
    "JobState",
    "ProgressEvent",
    "RunCounts",
    "RunSummary",
    "call_with_retries",
    "character_sheet_spec",
    "find_resumable_run",
    "is_transient",
    "list_runs",
    "materialize_file",
    "new_run_id",
    "page_file_name",
    "read_catalog",
    "read_catalog_table",
    "read_manifest",
    "render_plan",
    "settings_fingerprint",
    "upsert_catalog_rows",
]
