"""One row of the output catalog as a typed record: :class:`CatalogRow`.

The record is the one place the catalog's columns are declared: the Arrow schema
of ``catalog.parquet`` (:data:`storybench.batch.catalog.CATALOG_SCHEMA`) is derived
from its fields, in their order, with the Arrow type following the annotation
(``str`` → string, ``int`` → int64, ``float`` → float64, ``bool`` → bool, ``datetime``
→ UTC timestamp in microseconds, ``list[X]`` → list of X; every column is nullable). To add a column, add a
field here (with a default, so rows written before it read back as nulls).

A row is built by keyword only, so a misspelled column name is an error, and
:meth:`CatalogRow.from_mapping` rejects unknown keys instead of dropping them.
"""

from __future__ import annotations

import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict, cast

import pyarrow as pa

from storybench.batch.jobs import Job, JobKind, JobState
from storybench.render.base import ImageBackend
from storybench.render.spec import RenderSpec

__all__ = ["FLAT_METRICS", "CatalogRow", "FlatMetrics", "flat_metrics", "job_row", "metrics_json"]


class FlatMetrics(TypedDict, total=False):
    """Known numeric backend metrics, each with its own catalog column."""

    queue_seconds: float
    execution_seconds: float
    vram_free_before: float
    vram_free_after: float
    delay_time_ms: float
    execution_time_ms: float
    cost: float


#: Metrics copied from ``RenderResult.metrics`` into their own float columns when present.
FLAT_METRICS: tuple[str, ...] = tuple(FlatMetrics.__annotations__)

_ARROW_TYPES: dict[type, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    datetime: pa.timestamp("us", tz="UTC"),
}


@dataclass(kw_only=True)
class CatalogRow:
    """One artifact of one run. Sizes in pixels, times UTC, durations in seconds.

    Attributes:
        run_id, kind, artifact_id: the row's key (``kind`` is a :class:`JobKind` value).
        plan_id, plan_sha256, chapter_id, page_number, panel_id: where the artifact
            sits (``None`` when not applicable, e.g. ``page_number`` of a PDF).
        backend, backend_version, workflow, prompt, negative_prompt, seed, width,
            height: the render inputs (sheets and panels), ``width``/``height`` the
            finished image's size for pages too.
        path: the file relative to the output folder, ``""`` when not finished.
        sha256, bytes, cache_key: the file's content hash, size and content address.
        status, error, attempts, cache_hit: the outcome (a :class:`JobState` value).
        started_at, finished_at, seconds: when and how long.
        queue_seconds: the server's own queue time (a backend metric; empty where there
            was none, e.g. a cache hit).
        wait_seconds: the engine's own wait for a worker thread.
        execution_seconds: time working.
        server: the server that rendered it (a multi-server backend's ``metrics["server"]``).
        vram_free_before, vram_free_after, delay_time_ms, execution_time_ms, cost:
            known numeric backend metrics (:data:`FLAT_METRICS`).
        metrics: every backend metric as JSON text.
        warnings: a page's lettering warnings (``"page 3 panel 2: 2 of 5 balloons do
            not fit at the minimum size 24 px ..."``): text left off the page because
            it cannot fit at the minimum readable size; ``None`` when all of it fits.
        platform_id: the platform's id of a published object (rows of kind ``character``,
            ``media`` and ``post`` written by :mod:`storybench.publish`), ``None`` otherwise.
        candidate: a panel candidate's index (artifact ``<panel>~c<i>``), or on a panel row the
            candidate it was picked from; ``None`` outside candidate runs.
        consistency: the panel's consistency score (0..1: :mod:`storybench.scoring`), or ``None``.
    """

    run_id: str
    plan_id: str | None = None
    plan_sha256: str | None = None
    chapter_id: str | None = None
    page_number: int | None = None
    panel_id: str | None = None
    artifact_id: str
    kind: str
    backend: str | None = None
    backend_version: str | None = None
    workflow: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    path: str | None = None
    sha256: str | None = None
    bytes: int | None = None
    cache_key: str | None = None
    status: str | None = None
    error: str | None = None
    attempts: int | None = None
    cache_hit: bool | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    seconds: float | None = None
    queue_seconds: float | None = None
    wait_seconds: float | None = None
    execution_seconds: float | None = None
    server: str | None = None
    vram_free_before: float | None = None
    vram_free_after: float | None = None
    delay_time_ms: float | None = None
    execution_time_ms: float | None = None
    cost: float | None = None
    metrics: str | None = None
    warnings: list[str] | None = None
    platform_id: str | None = None
    candidate: int | None = None
    consistency: float | None = None

    @classmethod
    def column_names(cls) -> tuple[str, ...]:
        """The catalog's columns, in order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def arrow_schema(cls) -> pa.Schema:
        """The Arrow schema of the catalog, derived from the fields' annotations.

        Raises:
            TypeError: a field's annotation has no Arrow type here.
        """
        hints = typing.get_type_hints(cls)
        return pa.schema([(f.name, _arrow_type(f"{cls.__name__}.{f.name}", hints[f.name])) for f in fields(cls)])

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> CatalogRow:
        """A row from a mapping of column name to value (missing columns are null).

        Raises:
            ValueError: a key is not a catalog column, or a key column
                (``run_id``, ``kind``, ``artifact_id``) is missing.
        """
        names = set(cls.column_names())
        unknown = sorted(set(row) - names)
        if unknown:
            raise ValueError(f"catalog row: unknown column(s) {', '.join(map(repr, unknown))}")
        missing = [k for k in ("run_id", "kind", "artifact_id") if k not in row]
        if missing:
            raise ValueError(f"catalog row: missing key column(s) {', '.join(missing)}")
        return cls(**row)

    def to_dict(self) -> dict[str, Any]:
        """Column name to value, with NaN floats as ``None`` (null in the catalog)."""
        return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in asdict(self).items()}


def _arrow_type(name: str, hint: Any) -> pa.DataType:
    """The Arrow type of a field annotated ``hint`` (``X | None`` as ``X``; ``list[X]``
    as a list of ``X``)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, types.UnionType) and len(args) == 1:
        hint = args[0]
    if typing.get_origin(hint) is list and len(typing.get_args(hint)) == 1:
        return pa.list_(_arrow_type(name, typing.get_args(hint)[0]))
    if hint not in _ARROW_TYPES:
        raise TypeError(f"{name}: no Arrow type for {hint!r}")
    return _ARROW_TYPES[hint]


def metrics_json(metrics: Mapping[str, Any]) -> str:
    """``metrics`` as compact JSON text (non-JSON values shown with ``str``)."""
    return json.dumps(dict(metrics), ensure_ascii=False, sort_keys=True, default=str)


def flat_metrics(metrics: Mapping[str, Any]) -> FlatMetrics:
    """The known numeric metrics of :data:`FLAT_METRICS` present in ``metrics``, as floats."""
    out: dict[str, float] = {}
    for name in FLAT_METRICS:
        value = metrics.get(name)
        if isinstance(value, bool) or value is None:
            continue
        try:
            out[name] = float(value)
        except (TypeError, ValueError):
            continue
    return cast(FlatMetrics, out)


def job_row(
    job: Job,
    *,
    run_id: str,
    plan_id: str,
    plan_sha256: str,
    backend: ImageBackend,
    output_dir: Path,
) -> CatalogRow:
    """The catalog row of a finished job.

    Args:
        job: the job.
        run_id, plan_id, plan_sha256: the run and its plan.
        backend: the image backend (its name and cache identity are recorded for
            sheets and panels only).
        output_dir: the output folder ``path`` is relative to.
    """
    done = job.state is JobState.COMPLETED and job.path.exists()
    row = CatalogRow(
        run_id=run_id,
        plan_id=plan_id,
        plan_sha256=plan_sha256,
        chapter_id=job.chapter_id,
        page_number=job.page_number,
        # a candidate's artifact is "<panel>~c<i>"
        panel_id=job.artifact_id.split("~")[0] if job.kind is JobKind.PANEL else None,
        artifact_id=job.artifact_id,
        kind=job.kind.value,
        width=job.width,
        height=job.height,
        path=job.path.relative_to(output_dir).as_posix() if done else "",
        sha256=job.sha256 or None,
        bytes=job.bytes,
        cache_key=job.cache_key or None,
        status=job.state.value,
        error=job.error or None,
        attempts=job.attempts,
        cache_hit=job.cache_hit,
        started_at=job.started_at,
        finished_at=job.finished_at,
        seconds=job.seconds,
        wait_seconds=job.wait_seconds,  # queue_seconds is the server's: from the metrics, below
        execution_seconds=job.execution_seconds,
        server=str(job.metrics["server"]) if job.metrics.get("server") else None,
        metrics=metrics_json(job.metrics),
        warnings=list(job.warnings) or None,
        candidate=job.candidate,
        consistency=job.consistency,
    )
    if job.spec is not None:
        row = _with_render_inputs(row, job, job.spec, backend)
    return replace(row, **flat_metrics(job.metrics))


def _with_render_inputs(row: CatalogRow, job: Job, spec: RenderSpec, backend: ImageBackend) -> CatalogRow:
    """``row`` with the render inputs of a sheet or panel job."""
    return replace(
        row,
        backend=backend.name,
        backend_version=backend.cache_identity(spec),
        # a per-panel workflow param, else the one the backend reports using (ComfyUI's template)
        workflow=str(spec.params.get("workflow") or job.metrics.get("workflow") or ""),
        prompt=spec.prompt,
        negative_prompt=spec.negative_prompt,
        seed=spec.seed,
        width=spec.width if job.width is None else job.width,
        height=spec.height if job.height is None else job.height,
    )
