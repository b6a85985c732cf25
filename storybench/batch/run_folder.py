"""The folder of one run: choosing it, locking it, its manifest, and what a resumed run kept.

Layout: ``<output_dir>/<plan_id>/<run_id>/`` with ``characters/<character_id>.png``,
``panels/<panel_id>.png``, ``pages/page-001.png``..., ``<plan_id>.pdf``,
``<plan_id>.cbz``, ``run.json`` (:mod:`storybench.batch.runs`) and ``run.lock``.

Resume: a render of the same plan content with the same backend and settings in the
same output folder continues the latest such run when it did not complete (killed,
failed, cancelled): same ``run_id``, artifacts already there kept
(:meth:`RunFolder.kept`), failed jobs tried again.

``run.lock`` is a :mod:`filelock` lock held from :meth:`RunFolder.open` to
:meth:`RunFolder.close`; the OS releases it when the process dies, so a lock that
cannot be taken means another live process renders that run. ``run.json`` is
written when the run starts (status ``processing``) and again when it ends, with
every secret-looking value redacted (:func:`storybench.redact.redact_value`).

A plan folder belongs to one plan: a render whose plan shares its id with the plan
of the runs already there, but not its title nor its plan file, is refused
(:class:`~storybench.exceptions.ConfigError`) before anything is written, since
``storybench prune --keep`` and resuming would mix the two comics.

A run that completes marks the older runs of its plan that were killed (status
``processing``, lock free) as ``superseded`` (with ``superseded_by``): no render
will resume them, and ``storybench runs`` stops calling them interrupted.
Opening a run first finishes a prune that was killed in this output folder
(:func:`storybench.batch.prune_safety.finish_interrupted_prune`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
from filelock import FileLock, Timeout

from storybench.batch.catalog import CATALOG_RUNS_DIR, read_catalog_table
from storybench.batch.catalog_row import metrics_json
from storybench.batch.jobs import Job, JobState, utcnow
from storybench.batch.prune_safety import finish_interrupted_prune, in_progress
from storybench.batch.runs import (
    RUN_MANIFEST,
    find_resumable_run,
    list_runs,
    new_run_id,
    read_manifest,
    run_fingerprint,
    sweep_temp_files,
)
from storybench.batch.tempfiles import sweep_temp_files as sweep_dead_writers
from storybench.config import RenderSettings
from storybench.exceptions import ConfigError
from storybench.files import atomic_write_json, sha256_file
from storybench.plan.models import ComicPlan
from storybench.plan.text import show_value
from storybench.redact import redact_value
from storybench.render.base import ImageBackend

__all__ = ["ResumeMatch", "RunFolder", "page_file_name", "start_fields"]


def page_file_name(page_number: int) -> str:
    """File name of a composed page: ``page-001.png``."""
    return f"page-{page_number:03d}.png"


@dataclass(frozen=True)
class ResumeMatch:
    """What an unfinished run must share with this one to be resumed.

    Attributes:
        plan_sha256: the plan's content hash.
        backend: the backend's registered name.
        fingerprint: :func:`~storybench.batch.runs.run_fingerprint` of the settings and the
            backend's non-secret options.
    """

    plan_sha256: str
    backend: str
    fingerprint: str


def start_fields(
    plan: ComicPlan, plan_path: str | None, backend: ImageBackend, composer_version: str, settings: RenderSettings
) -> dict[str, Any]:
    """What ``run.json`` records about a run's inputs when it starts: the plan (id,
    title, content hash, file), the backend (name, class, version), the composer
    version, its non-secret options, the settings and the fingerprint of both (which a
    resume must match)."""
    backend_class = type(backend)
    return {
        "plan_id": plan.id,
        "plan_title": plan.title,
        "plan_sha256": plan.sha256(),
        "plan_path": plan_path,
        "backend": backend.name,
        "backend_class": f"{backend_class.__module__}.{backend_class.__qualname__}",
        "backend_version": backend.version,
        "composer_version": composer_version,
        "backend_options": json.loads(metrics_json(backend.run_identity())),
        "settings": settings.model_dump(mode="json"),
        "settings_fingerprint": run_fingerprint(settings, backend.run_identity()),
    }


class RunFolder:
    """One run's folder, from choosing its id to writing its final manifest.

    Args:
        output_dir: the output folder.
        plan_id: the plan's id (the folder's parent is ``<output_dir>/<plan_id>``).

    Attributes:
        run_id: the run's id (``""`` until :meth:`open`).
        path: ``<output_dir>/<plan_id>/<run_id>``.
        resumed: :meth:`open` picked up a run that had started before.
        manifest: the content of ``run.json`` as last written.
    """

    def __init__(self, output_dir: Path, plan_id: str) -> None:
        self.output_dir = output_dir
        self.plan_id = plan_id
        self.run_id = ""
        self.path = Path()
        self.resumed = False
        self.manifest: dict[str, Any] = {}
        self._previous: dict[str, Any] | None = None
        self._rows: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock: FileLock | None = None

    # -- choosing and locking ---------------------------------------------------
    def open(self, *, run_id: str | None, match: ResumeMatch | None) -> None:
        """Choose the run and take its lock.

        Args:
            run_id: use (or resume) this run.
            match: without ``run_id``, resume the latest unfinished run that matches,
                unless another process holds it; ``None``: always start a new run.

        Raises:
            ConfigError: ``run_id`` is being rendered by another process.
            OSError: the folder cannot be created.
        """
        finish_interrupted_prune(self.output_dir)
        for folder in (self.output_dir, self.output_dir / CATALOG_RUNS_DIR):
            sweep_dead_writers(folder, recursive=False)  # temporary files of killed writers
        if run_id:
            self._use(run_id)
            if not self._take_lock():
                raise ConfigError(f"run {run_id!r} is being rendered by another process ({self.path})")
            self._previous = read_manifest(self.path)
        elif match is not None:
            self._resume(match)
        if not self.run_id:
            self._new()
        self.resumed = self._previous is not None
        self.path.mkdir(parents=True, exist_ok=True)
        if self.resumed:
            sweep_temp_files(self.path)
            table = read_catalog_table(self.output_dir)
            mine = table.filter(pc.equal(table.column("run_id"), self.run_id))
            self._rows = {(r["kind"], r["artifact_id"]): r for r in mine.to_pylist()}

    def _use(self, run_id: str) -> None:
        self.run_id = run_id
        self.path = self.output_dir / self.plan_id / run_id

    def _resume(self, match: ResumeMatch) -> None:
        found = find_resumable_run(self.output_dir, self.plan_id, match.plan_sha256, match.backend, match.fingerprint)
        if found is None:
            return
        self._use(found[0].name)
        if self._take_lock():
            self._previous = found[1]
        else:  # still running in another process: start a new run
            self.run_id = ""

    def _new(self) -> None:
        while True:
            self._use(new_run_id())
            if not self.path.exists() and self._take_lock():
                return

    def _take_lock(self) -> bool:
        """Take the run folder's lock; ``False`` when another process holds it."""
        self.path.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.path / "run.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return False
        self._lock = lock
        return True

    def close(self) -> None:
        """Release the lock (once; later calls do nothing)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # -- the manifest -------------------------------------------------------------
    def start(self, fields: Mapping[str, Any]) -> None:
        """Write ``run.json`` for a run that starts now: ``fields`` plus ``run_id``,
        status ``processing``, ``created_at`` (kept when resuming), ``updated_at``,
        ``finished_at`` and ``resumes`` (how many times the run was picked up again).

        Raises:
            OSError: the file cannot be written.
        """
        self._check_owner(fields)
        now = utcnow().isoformat()
        previous = self._previous or {}
        self.manifest = {
            "run_id": self.run_id,
            **fields,
            "status": JobState.PROCESSING.value,
            "created_at": previous.get("created_at", now),
            "updated_at": now,
            "finished_at": None,
            "resumes": int(previous.get("resumes", -1)) + 1,
        }
        atomic_write_json(self.path / RUN_MANIFEST, redact_value(self.manifest))

    def _check_owner(self, fields: Mapping[str, Any]) -> None:
        """Refuse a plan that is not the one whose runs are in this plan folder (see the module docstring).

        Raises:
            ConfigError: another plan with the same id (other title, other plan file).
        """
        title, path = fields.get("plan_title"), fields.get("plan_path")
        for run_dir, other in reversed(list_runs(self.output_dir, self.plan_id)):
            if run_dir == self.path or _same_plan(other, title, path):
                continue
            if not self.resumed:
                self.close()
                shutil.rmtree(self.path, ignore_errors=True)
            raise ConfigError(
                f"{self.output_dir / self.plan_id} holds the runs of another plan with the id {self.plan_id!r} "
                f"(titled {show_value(other.get('plan_title'))}, from {other.get('plan_path') or 'code'}); "
                "give this plan its own id, or render it into another output folder"
            )

    def finish(self, status: str, fields: Mapping[str, Any]) -> None:
        """Write the final ``run.json``: ``status``, the finish time and ``fields``.

        Raises:
            OSError: the file cannot be written.
        """
        now = utcnow().isoformat()
        self.manifest.update({"status": status, "updated_at": now, "finished_at": now, **fields})
        atomic_write_json(self.path / RUN_MANIFEST, redact_value(self.manifest))
        if status == JobState.COMPLETED.value:
            self._supersede_killed_runs()

    def _supersede_killed_runs(self) -> None:
        """Mark older killed runs of this plan ``superseded`` (see the module docstring)."""
        title, path = self.manifest.get("plan_title"), self.manifest.get("plan_path")
        for run_dir, other in list_runs(self.output_dir, self.plan_id):
            if run_dir == self.path or other.get("status") != JobState.PROCESSING.value:
                continue
            if not _same_plan(other, title, path) or in_progress(run_dir):
                continue
            if str(other.get("created_at", "")) < str(self.manifest.get("created_at", "")):
                other.update(status="superseded", superseded_by=self.run_id)
                with contextlib.suppress(OSError):
                    atomic_write_json(run_dir / RUN_MANIFEST, other)

    # -- paths ----------------------------------------------------------------------
    @property
    def sheets_dir(self) -> Path:
        """``characters/``: the character reference sheets."""
        return self.path / "characters"

    def sheet_path(self, character_id: str) -> Path:
        """Where a character's reference sheet goes."""
        return self.sheets_dir / f"{character_id}.png"

    def panel_path(self, panel_id: str) -> Path:
        """Where a panel's image goes."""
        return self.path / "panels" / f"{panel_id}.png"

    def page_path(self, page_number: int) -> Path:
        """Where a composed page goes."""
        return self.path / "pages" / page_file_name(page_number)

    def export_path(self, suffix: str) -> Path:
        """Where the comic's export with ``suffix`` (``".pdf"``, ``".cbz"``) goes."""
        return self.path / f"{self.plan_id}{suffix}"

    # -- what the resumed run kept -------------------------------------------------
    def _previous_row(self, job: Job) -> dict[str, Any] | None:
        return self._rows.get((job.kind.value, job.artifact_id))

    def kept(self, job: Job) -> bool:
        """The run being resumed finished ``job``'s artifact with the same cache key and
        it is still intact on disk; then ``job`` gets its SHA-256, size and image size."""
        row = self._previous_row(job)
        if not row or row.get("status") != JobState.COMPLETED.value or row.get("cache_key") != job.cache_key:
            return False
        try:
            if not job.path.is_file() or sha256_file(job.path) != row.get("sha256"):
                return False
        except OSError:
            return False
        job.sha256, job.bytes = row["sha256"], row.get("bytes")
        job.width, job.height = row.get("width"), row.get("height")
        return True

    def unchanged(self, job: Job) -> bool:
        """``job`` reused the artifact the run being resumed had finished, unchanged
        (its catalog row then stays as it was)."""
        row = self._previous_row(job)
        return (
            row is not None
            and job.cache_hit
            and row.get("status") == JobState.COMPLETED.value
            and row.get("sha256") == job.sha256
            and row.get("cache_key") == (job.cache_key or None)
        )


def _same_plan(manifest: Mapping[str, Any], title: Any, path: Any) -> bool:
    """Whether a run's manifest is of the plan with this title and plan file: the same
    file, or (for a plan from code or a renamed file) the same title."""
    other_path = manifest.get("plan_path")
    if path and other_path and path == other_path:
        return True
    return manifest.get("plan_title") == title
