"""The batch engine and the output catalog.

:func:`render_plan` renders a comic plan through an image backend — panels, pages,
PDF and CBZ — with retries, a content-addressed cache, crash-safe resume and one
catalog row per artifact in ``<output_dir>/catalog.parquet`` (:func:`read_catalog`).

Modules, in the order a render uses them:

- ``engine``: :class:`BatchEngine` and :func:`render_plan`, the scheduling, one method per phase;
- ``work``: the jobs built from the plan (sheets, panels, pages), page readiness, why a job cannot start;
- ``keys``: cache keys as pure functions (panel with its character reference, page, export);
- ``produce``: the one "reuse from the cache or produce" path every job goes through;
- ``dispatch``: jobs on thread pools, waiting and cancelling;
- ``run_folder``: one run's folder: choosing it, its lock, ``run.json``, what a resumed run kept;
- ``ledger``: finished jobs: counts, catalog rows, errors, progress events, the summary;
- ``progress_feed``: progress events and warnings as JSON lines the CLI prints as they come;
- ``catalog_row``: :class:`~storybench.batch.catalog_row.CatalogRow`, the one declaration of the columns;
- ``catalog``: the parquet catalog (upsert, read); ``cache``: the content-addressed store;
- ``jobs``: job kinds, states and retries; ``counts``: per-kind counts; ``summary``: :class:`RunSummary`;
- ``runs``: run ids, manifests, resume lookup; ``references``: character sheet specs;
  ``composer``: the injectable page composer.
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
from storybench.batch.counts import RunCounts
from storybench.batch.engine import BatchEngine, render_plan
from storybench.batch.jobs import Job, JobKind, JobState, call_with_retries, is_transient
from storybench.batch.ledger import ProgressEvent
from storybench.batch.references import character_sheet_spec
from storybench.batch.run_folder import page_file_name
from storybench.batch.runs import (
    RUN_MANIFEST,
    find_resumable_run,
    list_runs,
    new_run_id,
    read_manifest,
    settings_fingerprint,
)
from storybench.batch.summary import RunSummary

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
