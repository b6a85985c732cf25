"""Run folders, run ids and the ``run.json`` manifest.

A run lives in ``<output_dir>/<plan_id>/<run_id>/``; ``run_id`` is the UTC start
time plus a random suffix (``20261121-061530-ab12``), so ids sort by time. The
manifest ``run.json`` is written (atomically) when the run starts, with status
``processing``, and again when it ends. A run found with a status other than
``completed`` was interrupted or failed, and a new render of the same plan with the
same backend and settings resumes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storybench.config import RenderSettings

__all__ = [
    "RUN_MANIFEST",
    "find_resumable_run",
    "list_runs",
    "new_run_id",
    "read_manifest",
    "run_fingerprint",
    "settings_fingerprint",
    "sweep_temp_files",
]

RUN_MANIFEST = "run.json"

#: Settings that do not change any artifact, left out of the resume fingerprint.
_NOT_OUTPUT = {"concurrency", "force"}


def new_run_id(now: datetime | None = None) -> str:
    """A new run id: ``YYYYmmdd-HHMMSS-xxxx`` (UTC time, 4 random hex digits)."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def settings_fingerprint(settings: RenderSettings) -> str:
    """Hex SHA-256 of the settings that shape the output (all but concurrency and force)."""
    data = settings.model_dump(mode="json", exclude=_NOT_OUTPUT)
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def run_fingerprint(settings: RenderSettings, backend_options: Mapping[str, Any]) -> str:
    """The resume key beside the plan and the backend name: hex SHA-256 of the settings that
    shape the output and the backend's non-secret options (``ImageBackend.run_identity()``:
    workflow, URLs...). A render with other options starts a new run."""
    blob = json.dumps(
        {"settings": settings_fingerprint(settings), "backend": dict(backend_options)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def read_manifest(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The ``run.json`` of ``run_dir``, or ``None`` when missing or unreadable."""
    try:
        data = json.loads((Path(run_dir) / RUN_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def list_runs(output_dir: str | os.PathLike[str], plan_id: str) -> list[tuple[Path, dict[str, Any]]]:
    """Every run of ``plan_id`` in ``output_dir`` with a readable manifest, oldest first."""
    base = Path(output_dir) / plan_id
    if not base.is_dir():
        return []
    runs = []
    for child in sorted(base.iterdir()):
        if child.is_dir():
            manifest = read_manifest(child)
            if manifest is not None:
                runs.append((child, manifest))
    runs.sort(key=lambda item: (str(item[1].get("created_at", "")), item[0].name))
    return runs


def find_resumable_run(
    output_dir: str | os.PathLike[str], plan_id: str, plan_sha256: str, backend: str, fingerprint: str
) -> tuple[Path, dict[str, Any]] | None:
    """The latest run of the same plan content, backend and settings, when it did not complete.

    Returns:
        ``(run_dir, manifest)`` of that run, or ``None`` when there is no such run or
        the latest one completed (a new run should start).
    """
    same = [
        (d, m)
        for d, m in list_runs(output_dir, plan_id)
        if m.get("plan_sha256") == plan_sha256
        and m.get("backend") == backend
        and m.get("settings_fingerprint") == fingerprint
    ]
    if not same:
        return None
    run_dir, manifest = same[-1]
    if manifest.get("status") == "completed":
        return None
    return run_dir, manifest


def sweep_temp_files(run_dir: str | os.PathLike[str]) -> int:
    """Delete temporary files left in ``run_dir`` by a killed writer (``.<name>.*.tmp``).

    Returns:
        How many were removed.
    """
    removed = 0
    for path in Path(run_dir).rglob(".*.tmp"):
        try:
            path.unlink()
            removed += 1
        except OSError:
            pass
    return removed
