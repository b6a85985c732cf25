"""What ran: one table row per run (or per plan that could not run), from the run folders and the catalog.

Plans that could not start a run (an invalid plan, a notebook that stopped before the
render) leave ``<output_dir>/attempts/<time>-<plan>.json`` (``plan``, ``plan_path``,
``status``, ``error``, ``created_at``) so they appear too.

A row comes from a run folder's ``run.json`` (:mod:`storybench.batch.runs`): status,
the counts of the run's last call (panels rendered / cached / failed, pages), seconds
and the folder. A run whose manifest still says ``processing`` while nobody holds its
``run.lock`` died (killed, crashed machine): it is shown ``interrupted``, and rendering
the same plan again resumes it. A run killed before it wrote its final counts gets them
from its catalog rows. Plans that never started a run (invalid plan) are rows with
status ``invalid`` and their error.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from storybench.batch.catalog import read_catalog_table
from storybench.batch.runs import RUN_MANIFEST, new_run_id, read_manifest
from storybench.files import atomic_write_json

__all__ = [
    "ATTEMPTS_DIR",
    "RunRow",
    "format_table",
    "lock_is_live",
    "parse_since",
    "past_runs",
    "record_attempt",
    "row_from_manifest",
]

#: ``<output_dir>/attempts/<time>-<plan file>.json``: plans that never started a run (invalid plan...).
ATTEMPTS_DIR = "attempts"

INTERRUPTED = "interrupted"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass
class RunRow:
    """One line of the runs table.

    Attributes:
        plan: plan id (or the plan file when it could not be read).
        run_id: the run's id, ``""`` when no run started.
        status: ``completed``, ``failed``, ``cancelled``, ``processing`` (running now),
            ``interrupted`` (died; resumable) or ``invalid`` (bad plan, no run).
        panels_rendered, panels_cached, panels_failed: panel counts of the run's last call.
        pages: pages of the run (page PNGs composed or reused).
        seconds: wall time, seconds (``None`` when unknown).
        run_dir: the run folder (``None`` when no run started).
        started_at: when the run was created (UTC, ISO 8601), ``""`` when unknown.
        error: why the plan or run failed (first error), ``""`` otherwise.
    """

    plan: str
    run_id: str = ""
    status: str = ""
    panels_rendered: int | None = None
    panels_cached: int | None = None
    panels_failed: int | None = None
    pages: int | None = None
    seconds: float | None = None
    run_dir: Path | None = None
    started_at: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        """The run completed."""
        return self.status == "completed"


def lock_is_live(run_dir: Path) -> bool:
    """True when a process holds ``run_dir/run.lock`` (the batch engine holds it while rendering;
    the OS releases it when the process dies)."""
    from filelock import FileLock, Timeout

    path = run_dir / "run.lock"
    if not path.exists():
        return False
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    except OSError:
        return False
    lock.release()
    return False


def _count_rows(rows: list[dict[str, Any]], kind: str, status: str, cache_hit: bool | None = None) -> int:
    """Catalog rows of this ``kind`` and ``status`` (and cache hit or not, when ``cache_hit`` is given)."""
    return sum(
        1
        for r in rows
        if r.get("kind") == kind
        and r.get("status") == status
        and (cache_hit is None or bool(r.get("cache_hit")) == cache_hit)
    )


def _catalog_counts(output_dir: Path, run_id: str) -> dict[str, int]:
    try:
        rows = [r for r in read_catalog_table(output_dir).to_pylist() if r.get("run_id") == run_id]
    except OSError:
        return {}
    return {
        "panels_rendered": _count_rows(rows, "panel", "completed", cache_hit=False),
        "panels_cached": _count_rows(rows, "panel", "completed", cache_hit=True),
        "panels_failed": _count_rows(rows, "panel", "failed"),
        "pages": _count_rows(rows, "page", "completed"),
    }


def _seconds(manifest: dict[str, Any]) -> float | None:
    if isinstance(manifest.get("seconds"), (int, float)):
        return float(manifest["seconds"])
    try:
        start = datetime.fromisoformat(str(manifest["created_at"]))
        end = datetime.fromisoformat(str(manifest.get("finished_at") or manifest["updated_at"]))
    except (KeyError, TypeError, ValueError):
        return None
    return max(0.0, (end - start).total_seconds())


def row_from_manifest(run_dir: Path, manifest: dict[str, Any], output_dir: Path | None = None) -> RunRow:
    """The table row of one run folder (``run_dir``) and its ``run.json`` (``manifest``)."""
    row = RunRow(
        plan=str(manifest.get("plan_id") or run_dir.parent.name),
        run_id=str(manifest.get("run_id") or run_dir.name),
        status=_run_status(run_dir, manifest),
        seconds=_seconds(manifest),
        run_dir=run_dir,
        started_at=str(manifest.get("created_at", "")),
        error=str((manifest.get("errors") or [""])[0]),
    )
    _fill_counts(row, manifest, output_dir or run_dir.parent.parent)
    return row


def _run_status(run_dir: Path, manifest: dict[str, Any]) -> str:
    """The manifest's status, ``interrupted`` for a ``processing`` run whose lock nobody holds."""
    status = str(manifest.get("status", ""))
    if status == "processing" and not lock_is_live(run_dir):
        return INTERRUPTED
    return status


def _fill_counts(row: RunRow, manifest: dict[str, Any], output_dir: Path) -> None:
    """Set ``row``'s panel and page counts from the manifest, else from the catalog in ``output_dir``."""
    counts = manifest.get("counts")
    if isinstance(counts, dict):
        row.panels_rendered = int(counts.get("panels_rendered", 0))
        row.panels_cached = int(counts.get("panels_cached", 0))
        row.panels_failed = int(counts.get("panels_failed", 0))
        row.pages = len(manifest.get("pages") or [])
        return
    for key, value in _catalog_counts(output_dir, row.run_id).items():
        setattr(row, key, value)


def record_attempt(output_dir: str | os.PathLike[str], row: RunRow, plan_path: str | os.PathLike[str]) -> Path:
    """Keep a plan that never started a run (``row.status`` ``invalid`` or ``failed``) for :func:`past_runs`.

    Returns:
        The attempt file written.
    """
    now = datetime.now(UTC)
    row.started_at = row.started_at or now.isoformat()
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(plan_path).stem)[:60] or "plan"
    path = Path(output_dir) / ATTEMPTS_DIR / f"{new_run_id(now)}-{stem}.json"
    data = {
        "plan": row.plan,
        "plan_path": str(Path(plan_path).resolve()),
        "status": row.status,
        "error": row.error,
        "created_at": row.started_at,
    }
    return atomic_write_json(path, data)


def _attempt_rows(base: Path, plan_id: str | None) -> list[RunRow]:
    rows = []
    for path in sorted((base / ATTEMPTS_DIR).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        plan = str(data.get("plan", ""))
        if plan_id is not None and plan_id not in (plan, Path(plan).stem):
            continue
        rows.append(
            RunRow(
                plan=plan,
                status=str(data.get("status", "")),
                started_at=str(data.get("created_at", "")),
                error=str(data.get("error", "")),
            )
        )
    return rows


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """The start time meant by ``--since``: a duration back from now (``90m``, ``24h``, ``7d``,
    ``2w``) or an ISO 8601 date/time (UTC when no zone is given).

    Raises:
        ValueError: neither form; the message shows both.
    """
    now = now or datetime.now(UTC)
    match = _DURATION.match(text)
    if match:
        return now - timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()])
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(
            f"--since {text!r}: expected a duration such as 24h, 90m, 7d, or a date like 2026-11-30"
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def past_runs(
    output_dir: str | os.PathLike[str], *, plan_id: str | None = None, since: datetime | None = None
) -> list[RunRow]:
    """Every run under ``output_dir`` (``<plan_id>/<run_id>/run.json``) and every recorded
    attempt that started no run, newest first.

    Args:
        output_dir: the outputs folder.
        plan_id: only this plan's runs.
        since: only runs created at or after this time (aware datetime).
    """
    base = Path(output_dir)
    if not base.is_dir():
        return []
    rows = _run_rows(base, plan_id, since)
    rows.extend(
        row
        for row in _attempt_rows(base, plan_id)
        if since is None or not row.started_at or _created_at(row.started_at) >= since
    )
    rows.sort(key=lambda r: (r.started_at, r.run_id), reverse=True)
    return rows


def _created_at(text: str) -> datetime:
    """An ISO 8601 time as an aware datetime (UTC when no zone is given).

    Raises:
        ValueError: not ISO 8601.
    """
    created = datetime.fromisoformat(text)
    return created if created.tzinfo else created.replace(tzinfo=UTC)


def _run_rows(base: Path, plan_id: str | None, since: datetime | None) -> list[RunRow]:
    """The rows of the run folders under ``base`` (only ``plan_id``'s, only those created at or after ``since``)."""
    rows: list[RunRow] = []
    for manifest_path in base.glob(f"{plan_id or '*'}/*/{RUN_MANIFEST}"):
        run_dir = manifest_path.parent
        manifest = read_manifest(run_dir)
        if manifest is None:
            continue
        row = row_from_manifest(run_dir, manifest, base)
        if since is not None:
            try:
                created = _created_at(row.started_at)
            except ValueError:
                continue
            if created < since:
                continue
        rows.append(row)
    return rows


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def format_table(rows: list[RunRow], *, relative_to: Path | None = None) -> str:
    """The rows as a plain-text table (plan, run id, status, panels rendered / cached /
    failed, pages, seconds, run folder), errors listed below it."""
    header = ("plan", "run id", "status", "rendered", "cached", "failed", "pages", "seconds", "run folder")
    cells = [header, *[tuple(_cell(v) for v in _row_values(r, relative_to)) for r in rows]]
    return "\n".join(_aligned_lines(cells) + _error_lines(rows))


def _shown_folder(folder: Path | None, relative_to: Path | None) -> Path | None:
    """``folder`` relative to ``relative_to`` when it lies inside it, else as it is."""
    if folder is not None and relative_to is not None:
        with contextlib.suppress(ValueError):
            return folder.resolve().relative_to(relative_to.resolve())
    return folder


def _row_values(r: RunRow, relative_to: Path | None) -> tuple[Any, ...]:
    """The values of one table line, in the order of the header."""
    return (
        r.plan,
        r.run_id,
        r.status,
        r.panels_rendered,
        r.panels_cached,
        r.panels_failed,
        r.pages,
        r.seconds,
        _shown_folder(r.run_dir, relative_to),
    )


def _aligned_lines(cells: list[tuple[str, ...]]) -> list[str]:
    """The header and body lines in columns (numbers right-aligned), a dashed rule under the header."""
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    numeric = {3, 4, 5, 6, 7}
    lines = [
        "  ".join(c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(line)).rstrip()
        for line in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def _error_lines(rows: list[RunRow]) -> list[str]:
    """A blank line then each failed row's error (prefixed with its plan, at most 20 more lines), or nothing."""
    failed = [r for r in rows if r.error and not r.ok]
    lines = [""] if failed else []
    for r in failed:
        first, *rest = r.error.splitlines() or [""]
        lines.append(first if r.plan in first else f"{r.plan}: {first}")
        lines.extend(f"  {line}" for line in rest[:20])
    return lines
