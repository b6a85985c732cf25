"""The batch engine: renders a comic plan's panels, composes its pages, exports PDF and CBZ.

Order of work in a run (see :mod:`storybench.batch.jobs` for job states):

1. character sheets, one per character in the panels being rendered, when the
   backend has a truthy ``supports_reference_images``;
2. ``backend.preflight(specs)`` once, with the specs that really need rendering;
3. panels, ``concurrency`` at a time on a thread pool; each page is composed as soon
   as its panels are done, on one composing thread (so a composer need not be thread-safe);
4. the cover (``settings.cover``), then the exports of ``settings.exports`` (PDF, CBZ,
   EPUB, webtoon), once every page is there.

Every artifact is content-addressed (:mod:`storybench.batch.cache`): a panel by its
render spec's cache key, a page by the composer version, the page JSON (lettering
included), layout, style, page settings and its panels' SHA-256, an export by its
pages' SHA-256. Whatever is in the cache is linked into the run instead of being
produced again, unless ``settings.force`` (which still keeps what the run being
resumed had already made).

Folder of a run: ``<output_dir>/<plan_id>/<run_id>/`` with ``characters/``,
``panels/<panel_id>.png``, ``pages/page-001.png``... (``pages/cover.png`` with
``settings.cover``), the exports of ``settings.exports`` — ``<plan_id>.pdf``,
``<plan_id>.cbz``, ``<plan_id>.epub``, ``<plan_id>-webtoon.png`` with its slices in
``webtoon/`` — and ``run.json``. Every job's row goes to
``<output_dir>/catalog.parquet`` (:mod:`storybench.batch.catalog`).

Resume: a render of the same plan content with the same backend and settings in the
same output folder continues the latest such run when it did not complete (killed,
failed, cancelled): same ``run_id``, artifacts already there kept, failed jobs
tried again.

``settings.only_pages``: only those pages' panels are rendered and composed; the
PDF/CBZ hold the whole comic when every other page can be taken from the cache as
it is, otherwise only the selected pages (``RunSummary.exported_pages`` says which).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from storybench.batch.cache import ArtifactCache, CacheEntry
from storybench.batch.catalog import CatalogWriter, flat_metrics, metrics_json, read_catalog_table
from storybench.batch.composer import Composer
from storybench.batch.jobs import Job, JobKind, JobState, call_with_retries, utcnow
from storybench.batch.references import character_sheet_spec
from storybench.batch.runs import (
    RUN_MANIFEST,
    find_resumable_run,
    new_run_id,
    read_manifest,
    settings_fingerprint,
    sweep_temp_files,
)
from storybench.batch.summary import RunCounts, RunSummary
from storybench.config import RenderSettings
from storybench.exceptions import Cancelled, ConfigError, StorybenchError, TransientBackendError
from storybench.io import atomic_write_json, sha256_file
from storybench.plan.layouts import panel_rects
from storybench.plan.models import Chapter, ComicPlan, Page, PanelPlan
from storybench.plan.styles import get_style
from storybench.prompts.panel import panel_render_spec, render_size
from storybench.render.base import ImageBackend, get_image_backend
from storybench.render.spec import RenderSpec

__all__ = ["BatchEngine", "ProgressEvent", "page_file_name", "render_plan"]


@dataclass(frozen=True)
class ProgressEvent:
    """What ``on_event`` receives.

    Attributes:
        type: ``"run_started"``, ``"job_finished"`` or ``"run_finished"``.
        run_id: the run.
        done, total: finished jobs and all jobs of this call so far.
        job_id, kind, artifact_id, state, error, cache_hit: the finished job
            (``job_finished`` only).
        status: the run's status (``run_finished`` only).
    """

    type: str
    run_id: str
    done: int = 0
    total: int = 0
    job_id: str = ""
    kind: str = ""
    artifact_id: str = ""
    state: str = ""
    error: str = ""
    cache_hit: bool = False
    status: str = ""


#: Part of every export's cache key: bump when exports change for the same pages.
EXPORTS_VERSION = "exports-2"

#: Smallest render side a :class:`RenderSpec` allows, pixels.
MIN_RENDER_SIDE = 64


def page_file_name(page_number: int) -> str:
    """File name of a composed page: ``page-001.png``."""
    return f"page-{page_number:03d}.png"


def _hash_json(data: Any) -> str:
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, StorybenchError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


@dataclass
class _PageWork:
    chapter: Chapter
    page: Page
    selected: bool
    panels: list[PanelPlan]
    specs: dict[str, RenderSpec]
    job: Job
    panel_jobs: list[Job] = field(default_factory=list)


class BatchEngine:
    """One render of one plan; build it, then call :meth:`run` (once).

    Args:
        plan: the plan (a :class:`ComicPlan`, a plan dict, or a plan file path).
        backend: an :class:`ImageBackend` or a registered backend name.
        output_dir: folder for runs, the cache and the catalog.
        settings: render settings.
        plan_path: the plan file, recorded in ``run.json``.
        run_id: use (or resume) this run id instead of choosing one.
        resume: continue the latest unfinished run of the same plan, backend and settings.
        progress: show a tqdm progress bar (terminal or notebook).
        composer: page composition and export functions; default :meth:`Composer.default`.
        on_event: called with a :class:`ProgressEvent` as jobs finish (from the calling thread).
        cancel_event: an event that cancels the run when set (``cancel()`` sets it).
        catalog_batch_rows, catalog_flush_seconds: catalog flush policy (see
            :class:`~storybench.batch.catalog.CatalogWriter`).

    Raises:
        ConfigError: ``settings.only_pages`` names pages the plan does not have.
        UnknownBackendError: ``backend`` is an unknown name.
    """

    def __init__(
        self,
        plan: ComicPlan | dict | str | os.PathLike[str],
        *,
        backend: ImageBackend | str,
        output_dir: str | os.PathLike[str] = "outputs",
        settings: RenderSettings | None = None,
        plan_path: str | os.PathLike[str] | None = None,
        run_id: str | None = None,
        resume: bool = True,
        progress: bool = True,
        composer: Composer | None = None,
        on_event: Callable[[ProgressEvent], None] | None = None,
        cancel_event: threading.Event | None = None,
        catalog_batch_rows: int = 64,
        catalog_flush_seconds: float = 2.0,
    ) -> None:
        from storybench.plan.io import load_plan, parse_plan

        if isinstance(plan, (str, os.PathLike)):
            plan_path = plan_path or plan
            plan = load_plan(plan)
        elif isinstance(plan, dict):
            plan = parse_plan(plan)
        self.plan: ComicPlan = plan
        self.plan_path = str(plan_path) if plan_path else None
        self._owns_backend = isinstance(backend, str)
        self.backend: ImageBackend = get_image_backend(backend) if isinstance(backend, str) else backend
        self.output_dir = Path(output_dir)
        self.settings = settings or RenderSettings()
        self.requested_run_id = run_id
        self.resume = resume
        self.progress = progress
        self._composer = composer
        self.on_event = on_event
        self.cancel_event = cancel_event or threading.Event()
        self.cache = ArtifactCache(self.output_dir / "cache")
        self.catalog = CatalogWriter(
            self.output_dir, batch_rows=catalog_batch_rows, flush_seconds=catalog_flush_seconds
        )
        self.plan_sha256 = self.plan.sha256()
        style = get_style(self.plan.style)
        direction = self.settings.reading_direction
        self.rtl = (style.reading_direction if direction == "auto" else direction) == "rtl"
        self.uses_references = bool(getattr(self.backend, "supports_reference_images", False))
        numbers = [p.page_number for _, p in self.plan.pages()]
        unknown = sorted(set(self.settings.only_pages) - set(numbers))
        if unknown:
            raise ConfigError(
                f"settings.only_pages: plan {self.plan.id!r} has no page {', '.join(map(str, unknown))} "
                f"(pages 1..{len(numbers)})"
            )
        self.selected = set(self.settings.only_pages or numbers)
        self.counts = RunCounts()
        self._rows: list[dict[str, Any]] = []
        self._errors: list[str] = []
        self._existing: dict[tuple[str, str], dict[str, Any]] = {}
        self._done = 0
        self._total = 0
        self._pbar = None
        self._preflight: dict[str, Any] = {}
        self._preflight_error = ""
        self._cancel_lock = threading.Lock()
        self._backend_cancelled = False
        self.run_id = ""
        self.run_dir = Path()
        self.resumed = False
        self._run_lock = None

    # -- public -------------------------------------------------------------
    def cancel(self) -> None:
        """Stop the run: nothing new starts, the backend is asked to stop, jobs not
        finished end ``cancelled``. Safe to call from any thread."""
        self.cancel_event.set()
        self._cancel_backend()

    def _cancel_backend(self) -> None:
        """Ask the backend to stop its renders in flight, once per run."""
        with self._cancel_lock:
            if self._backend_cancelled:
                return
            self._backend_cancelled = True
        try:
            self.backend.cancel()
        except Exception:
            pass

    def run(self) -> RunSummary:
        """Do the whole render and return its summary.

        Failed jobs do not raise: they are recorded (job, catalog, ``run.json``) and
        the summary's status is ``failed``. A ``KeyboardInterrupt`` cancels the run,
        records it, and is raised again.

        Raises:
            ConfigError: no composer is available.
            OSError: the output folder cannot be written.
        """
        started = time.monotonic()
        composer = self._resolve_composer()
        self._start_run(composer)
        try:
            self._execute(composer)
        except BaseException as exc:  # record the stop in run.json and the catalog, then re-raise
            if isinstance(exc, KeyboardInterrupt):
                self.cancel()
            try:
                self._finish(started, composer, error=_error_text(exc))
            except Exception:
                pass
            raise
        else:
            return self._finish(started, composer)
        finally:
            if self._pbar is not None:
                self._pbar.close()
            if self._owns_backend:
                self.backend.close()
            if self._run_lock is not None:
                self._run_lock.release()
                self._run_lock = None

    # -- setup --------------------------------------------------------------
    def _resolve_composer(self) -> Composer:
        if self._composer is not None:
            return self._composer
        try:
            return Composer.default()
        except ImportError as exc:
            raise ConfigError(f"page composition needs storybench.compose, which cannot be imported: {exc}") from exc

    def _lock_run(self) -> bool:
        """Take the run folder's lock (held until the run ends); ``False`` when another
        process holds it. The lock is released by the OS if this process dies."""
        from filelock import FileLock, Timeout

        self.run_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.run_dir / "run.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return False
        self._run_lock = lock
        return True

    def _start_run(self, composer: Composer) -> None:
        fingerprint = settings_fingerprint(self.settings)
        previous: dict[str, Any] | None = None
        if self.requested_run_id:
            self.run_id = self.requested_run_id
            self.run_dir = self.output_dir / self.plan.id / self.run_id
            if not self._lock_run():
                raise ConfigError(f"run {self.run_id!r} is being rendered by another process ({self.run_dir})")
            previous = read_manifest(self.run_dir)
        elif self.resume:
            found = find_resumable_run(self.output_dir, self.plan.id, self.plan_sha256, self.backend.name, fingerprint)
            if found:
                self.run_dir, previous = found
                self.run_id = self.run_dir.name
                if not self._lock_run():  # still running in another process: start a new run
                    self.run_id, previous = "", None
        if not self.run_id:
            while True:
                self.run_id = new_run_id()
                self.run_dir = self.output_dir / self.plan.id / self.run_id
                if not self.run_dir.exists() and self._lock_run():
                    break
        self.resumed = previous is not None
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.cache.sweep_temp_files()
        if self.resumed:
            sweep_temp_files(self.run_dir)
            table = read_catalog_table(self.output_dir)
            mine = table.filter(pc.equal(table.column("run_id"), self.run_id))
            for row in mine.to_pylist():
                self._existing[(row["kind"], row["artifact_id"])] = row
        now = utcnow().isoformat()
        self._manifest: dict[str, Any] = {
            "run_id": self.run_id,
            "plan_id": self.plan.id,
            "plan_title": self.plan.title,
            "plan_sha256": self.plan_sha256,
            "plan_path": self.plan_path,
            "backend": self.backend.name,
            "backend_class": f"{type(self.backend).__module__}.{type(self.backend).__qualname__}",
            "backend_version": getattr(self.backend, "version", ""),
            "composer_version": composer.version,
            "settings": self.settings.model_dump(mode="json"),
            "settings_fingerprint": fingerprint,
            "status": JobState.PROCESSING.value,
            "created_at": (previous or {}).get("created_at", now),
            "updated_at": now,
            "finished_at": None,
            "resumes": int((previous or {}).get("resumes", -1)) + 1,
        }
        atomic_write_json(self.run_dir / RUN_MANIFEST, self._manifest)

    # -- keys and specs -------------------------------------------------------
    def _render_key(self, spec: RenderSpec) -> str:
        return spec.cache_key(self.backend.name, self.backend.cache_identity(spec))

    def _panel_specs(self, page: Page) -> dict[str, RenderSpec]:
        s = self.settings
        rects = panel_rects(page.layout, s.page_width, s.page_height, margin=s.margin, gutter=s.gutter, rtl=self.rtl)
        specs = {}
        for panel in page.panels:
            rect = rects[panel.position - 1]
            w, h = render_size(rect.width, rect.height, s.panel_max_side)
            if min(w, h) < MIN_RENDER_SIDE:  # a thin panel: grow until its short side is allowed
                longer = (
                    math.ceil(MIN_RENDER_SIDE * max(rect.width, rect.height) / min(rect.width, rect.height) / 8) * 8
                )
                w, h = render_size(rect.width, rect.height, longer)
            specs[panel.id] = panel_render_spec(self.plan, panel, w, h, params=s.render_params)
        return specs

    def _with_reference(
        self, spec: RenderSpec, panel: PanelPlan, sheet_sha: dict[str, str], *, placeholder: bool = False
    ) -> RenderSpec | None:
        """``spec`` with its first cast member's sheet attached (path and SHA-256 in
        ``params["reference_sha256"]``); ``None`` when that sheet's SHA-256 is not known
        yet, unless ``placeholder`` (then the path is attached without a hash)."""
        if not self.uses_references or not panel.characters:
            return spec
        first = panel.characters[0]
        sha = sheet_sha.get(first)
        if not sha and not placeholder:
            return None
        path = self.run_dir / "characters" / f"{first}.png"
        params = {**spec.params, "reference_sha256": sha} if sha else dict(spec.params)
        return spec.model_copy(update={"reference_images": (str(path),), "params": params})

    def _page_key(self, chapter: Chapter, page: Page, panel_sha: list[str], composer: Composer) -> str:
        s = self.settings
        speakers = sorted(
            {d.character for p in page.panels for d in p.dialogue} | {c for p in page.panels for c in p.characters}
        )
        return _hash_json(
            {
                "composer": composer.version,
                "page": page.model_dump(mode="json", by_alias=True),
                "chapter": {"id": chapter.id, "title": chapter.title},
                "plan": {
                    "id": self.plan.id,
                    "title": self.plan.title,
                    "style": self.plan.style,
                    "language": self.plan.language,
                },
                "names": {cid: self.plan.character(cid).name for cid in speakers},
                "settings": {
                    "page_width": s.page_width,
                    "page_height": s.page_height,
                    "dpi": s.dpi,
                    "margin": s.margin,
                    "gutter": s.gutter,
                    "border": s.border,
                    "rtl": self.rtl,
                },
                "panels": panel_sha,
            }
        )

    # -- the run ----------------------------------------------------------------
    def _execute(self, composer: Composer) -> None:
        from tqdm.auto import tqdm

        work = self._plan_work()
        selected = [w for w in work if w.selected]
        sheet_jobs = self._sheet_jobs(selected)
        panel_jobs = [j for w in selected for j in w.panel_jobs]
        exports = len(self.settings.exports)
        self._total = (
            len(sheet_jobs) + len(panel_jobs) + len(selected) + exports + (1 if exports and self.settings.cover else 0)
        )
        self._pbar = tqdm(
            total=self._total, desc=f"{self.plan.id} {self.run_id}", unit="job", disable=not self.progress, leave=True
        )
        self._emit(ProgressEvent("run_started", self.run_id, 0, self._total))

        # keys known before rendering: sheets always, panels unless they wait for a sheet
        for job in sheet_jobs:
            job.cache_key = self._render_key(job.spec)
        sheet_sha = {j.artifact_id: e.sha256 for j in sheet_jobs if (e := self.cache.get(j.cache_key))}
        to_render = [
            j.spec for j in sheet_jobs if (self.settings.force or j.artifact_id not in sheet_sha) and not self._kept(j)
        ]
        for w in selected:
            for job in w.panel_jobs:
                panel = self._panel(w, job.artifact_id)
                spec = self._with_reference(job.spec, panel, sheet_sha)
                if spec is None:  # its sheet must be rendered first: key unknown yet
                    to_render.append(self._with_reference(job.spec, panel, sheet_sha, placeholder=True))
                    continue
                job.spec, job.cache_key = spec, self._render_key(spec)
                if (self.settings.force or self.cache.get(job.cache_key) is None) and not self._kept(job):
                    to_render.append(spec)
        self._run_preflight(to_render)

        workers = self.settings.concurrency or getattr(self.backend, "default_concurrency", 1) or 1
        # one composing thread: pages overlap with rendering, and composers (fonts, FreeType
        # faces) need not be thread-safe
        with (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sb-render") as pool,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="sb-compose") as page_pool,
        ):
            try:
                self._run_jobs(pool, page_pool, composer, selected, sheet_jobs, panel_jobs)
            except BaseException:  # Ctrl-C or a bug: queued jobs must not start while the pools shut down
                self.cancel()
                raise

        # 3. exports
        self._add_cached_pages(work, composer)
        self._exports(work, composer)

    def _run_jobs(
        self,
        pool: ThreadPoolExecutor,
        page_pool: ThreadPoolExecutor,
        composer: Composer,
        selected: list[_PageWork],
        sheet_jobs: list[Job],
        panel_jobs: list[Job],
    ) -> None:
        blocked: dict[str, Job] = {}
        sheet_sha: dict[str, str] = {}
        # 1. character sheets, then the panel specs that reference them
        if sheet_jobs:
            self._drain({self._submit(pool, self._render_job, j): j for j in sheet_jobs})
            sheet_sha = {j.artifact_id: j.sha256 for j in sheet_jobs if j.state is JobState.COMPLETED}
            failed_sheets = {j.artifact_id: j for j in sheet_jobs if j.state is not JobState.COMPLETED}
            for w in selected:
                for job in w.panel_jobs:
                    panel = self._panel(w, job.artifact_id)
                    if panel.characters and panel.characters[0] in failed_sheets:
                        blocked[job.artifact_id] = failed_sheets[panel.characters[0]]
                        continue
                    spec = self._with_reference(w.specs[job.artifact_id], panel, sheet_sha)
                    job.spec, job.cache_key = spec, self._render_key(spec)

        # 2. panels, and pages as soon as their panels are done
        futures: dict[Future, Job] = {}
        for job in panel_jobs:
            sheet = blocked.get(job.artifact_id)
            if sheet is not None:
                state = JobState.CANCELLED if sheet.state is JobState.CANCELLED else JobState.FAILED
                job.finish(state, f"character sheet {sheet.artifact_id!r} {sheet.state.value}: {sheet.error}")
                self._record(job)
                continue
            futures[self._submit(pool, self._render_job, job)] = job
        page_of = {j.artifact_id: w for w in selected for j in w.panel_jobs}
        submitted = {id(j) for j in futures.values()}
        waiting = {id(w): sum(id(j) in submitted for j in w.panel_jobs) for w in selected}
        ready = [w for w in selected if waiting[id(w)] == 0]
        for w in ready:
            futures.update(self._start_page(page_pool, w, composer))
        while futures:
            done = self._wait_any(futures)
            for fut in done:
                job = self._settle(fut, futures.pop(fut))
                if job.kind is JobKind.PANEL:
                    w = page_of[job.artifact_id]
                    waiting[id(w)] -= 1
                    if waiting[id(w)] == 0:
                        futures.update(self._start_page(page_pool, w, composer))

    def _plan_work(self) -> list[_PageWork]:
        work = []
        for chapter, page in self.plan.pages():
            panels = sorted(page.panels, key=lambda p: p.position)
            specs = self._panel_specs(page)
            page_job = Job(
                kind=JobKind.PAGE,
                artifact_id=page.id,
                path=self.run_dir / "pages" / page_file_name(page.page_number),
                chapter_id=chapter.id,
                page_number=page.page_number,
            )
            w = _PageWork(chapter, page, page.page_number in self.selected, panels, specs, page_job)
            if w.selected:
                w.panel_jobs = [
                    Job(
                        kind=JobKind.PANEL,
                        artifact_id=p.id,
                        path=self.run_dir / "panels" / f"{p.id}.png",
                        spec=specs[p.id],
                        chapter_id=chapter.id,
                        page_number=page.page_number,
                    )
                    for p in panels
                ]
            work.append(w)
        return work

    @staticmethod
    def _panel(w: _PageWork, panel_id: str) -> PanelPlan:
        return next(p for p in w.panels if p.id == panel_id)

    def _sheet_jobs(self, selected: list[_PageWork]) -> list[Job]:
        if not self.uses_references:
            return []
        present = {cid for w in selected for p in w.panels for cid in p.characters}
        return [
            Job(
                kind=JobKind.CHARACTER_SHEET,
                artifact_id=c.id,
                path=self.run_dir / "characters" / f"{c.id}.png",
                spec=character_sheet_spec(self.plan, c, self.settings),
            )
            for c in self.plan.characters
            if c.id in present
        ]

    def _run_preflight(self, specs: list[RenderSpec]) -> None:
        t0 = time.monotonic()
        self._preflight = {"specs": len(specs), "seconds": 0.0, "result": {}, "error": None}
        if not specs or self.cancel_event.is_set():
            return
        try:
            result = self.backend.preflight(specs) or {}
            self._preflight["result"] = json.loads(metrics_json(result))
        except Exception as exc:
            self._preflight_error = f"preflight failed: {_error_text(exc)}"
            self._preflight["error"] = self._preflight_error
        self._preflight["seconds"] = round(time.monotonic() - t0, 6)

    def _submit(self, pool: ThreadPoolExecutor, fn: Callable[[Job], Job], job: Job) -> Future:
        job.submitted = time.monotonic()
        return pool.submit(fn, job)

    #: How often the wait for jobs looks at ``cancel_event``, seconds.
    CANCEL_POLL_SECONDS = 0.05

    def _wait_any(self, futures: dict[Future, Job]) -> set[Future]:
        """Wait until one of ``futures`` is done. Meanwhile, once ``cancel_event`` is set
        (by :meth:`cancel` or by the caller directly), ask the backend to cancel the
        renders in flight, so remote jobs (RunPod, Runware) stop instead of running on."""
        while True:
            timeout = None if self._backend_cancelled else self.CANCEL_POLL_SECONDS
            done, _ = wait(list(futures), timeout=timeout, return_when=FIRST_COMPLETED)
            if self.cancel_event.is_set() and not self._backend_cancelled:
                self._cancel_backend()
            if done:
                return done

    def _drain(self, futures: dict[Future, Job]) -> None:
        while futures:
            done = self._wait_any(futures)
            for fut in done:
                self._settle(fut, futures.pop(fut))

    def _settle(self, fut: Future, job: Job) -> Job:
        """Record the finished job of ``fut``. An exception that escaped the worker fails
        the job; ``KeyboardInterrupt``/``SystemExit`` are then raised again here."""
        exc = fut.exception()
        if exc is not None and not job.state.finished:
            job.finish(JobState.FAILED, _error_text(exc))
        self._record(job)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise exc
        return job

    # -- one job ------------------------------------------------------------------
    def _kept(self, job: Job) -> bool:
        """Resume: the artifact was finished by the run being resumed and is still intact."""
        row = self._existing.get((job.kind.value, job.artifact_id))
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

    def _adopt(self, job: Job, entry: CacheEntry) -> None:
        self.cache.materialize(entry, job.path)
        job.sha256, job.bytes, job.width, job.height = entry.sha256, entry.bytes, entry.width, entry.height

    def _render_job(self, job: Job) -> Job:
        """Worker: produce one character sheet or panel (cache, or backend with retries)."""
        if self.cancel_event.is_set():
            job.finish(JobState.CANCELLED, "cancelled")
            return job
        job.start()
        try:
            if self._kept(job):
                job.cache_hit = True
                job.finish(JobState.COMPLETED)
                return job
            entry = None if self.settings.force else self.cache.get(job.cache_key)
            if entry is not None:
                self._adopt(job, entry)
                job.cache_hit = True
                job.finish(JobState.COMPLETED)
                return job
            if self._preflight_error:
                job.finish(JobState.FAILED, self._preflight_error)
                return job

            def attempt() -> tuple[bytes, int, int, dict[str, Any], float]:
                t0 = time.monotonic()
                result = self.backend.render(job.spec)
                seconds = time.monotonic() - t0
                png, w, h = self._as_png(result.image, job)
                return png, w, h, dict(result.metrics), seconds

            png, w, h, metrics, seconds = call_with_retries(
                attempt,
                retries=self.settings.retries,
                backoff_seconds=self.settings.backoff_seconds,
                cancel_event=self.cancel_event,
                on_attempt=lambda n: setattr(job, "attempts", n),
            )
            job.metrics, job.execution_seconds = metrics, seconds
            entry = self.cache.put_bytes(job.cache_key, png, kind=job.kind.value, width=w, height=h)
            self._adopt(job, entry)
            job.finish(JobState.COMPLETED)
        except Cancelled as exc:
            job.finish(JobState.CANCELLED, str(exc))
        except Exception as exc:
            job.finish(JobState.FAILED, _error_text(exc))
        return job

    def _as_png(self, data: bytes, job: Job) -> tuple[bytes, int, int]:
        """Check the backend's image decodes; re-encode it as PNG when it is not one."""
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                if img.format == "PNG":
                    return data, img.width, img.height
                out = io.BytesIO()
                img.save(out, format="PNG")
                return out.getvalue(), img.width, img.height
        except Exception as exc:
            raise TransientBackendError(self.backend.name, f"the image for {job.id} does not decode: {exc}") from exc

    def _start_page(self, pool: ThreadPoolExecutor, w: _PageWork, composer: Composer) -> dict[Future, Job]:
        job = w.job
        bad = [j for j in w.panel_jobs if j.state is not JobState.COMPLETED]
        if bad:
            cancelled = all(j.state is JobState.CANCELLED for j in bad) or self.cancel_event.is_set()
            names = ", ".join(f"{j.artifact_id} ({j.state.value})" for j in bad)
            job.finish(JobState.CANCELLED if cancelled else JobState.FAILED, f"panel(s) not available: {names}")
            self._record(job)
            return {}
        job.cache_key = self._page_key(w.chapter, w.page, [j.sha256 for j in w.panel_jobs], composer)
        return {self._submit(pool, lambda j: self._page_job(j, w, composer), job): job}

    def _page_job(self, job: Job, w: _PageWork, composer: Composer) -> Job:
        """Worker: compose one page (or take it from the cache)."""
        if self.cancel_event.is_set():
            job.finish(JobState.CANCELLED, "cancelled")
            return job
        job.start()
        try:
            if self._kept(job):
                job.cache_hit = True
                job.finish(JobState.COMPLETED)
                return job
            entry = None if self.settings.force else self.cache.get(job.cache_key)
            if entry is None:
                job.attempts = 1
                t0 = time.monotonic()
                images = {j.artifact_id: str(j.path) for j in w.panel_jobs}
                image = composer.compose_page(self.plan, w.page, images, self.settings)
                target = self.cache.object_path(job.cache_key, ".png")
                composer.save_page_png(image, target, dpi=self.settings.dpi)
                job.execution_seconds = time.monotonic() - t0
                entry = self.cache.commit(job.cache_key, target, kind="page", width=image.width, height=image.height)
            else:
                job.cache_hit = True
            self._adopt(job, entry)
            job.finish(JobState.COMPLETED)
        except Exception as exc:
            job.finish(JobState.FAILED, _error_text(exc))
        return job

    def _cached_page_entry(self, w: _PageWork, composer: Composer) -> CacheEntry | None:
        """The cached page of an unselected page, when its panels and the page itself
        are all in the cache as the plan is now."""
        sheet_sha: dict[str, str] = {}
        if self.uses_references:
            for c in self.plan.characters:
                e = self.cache.get(self._render_key(character_sheet_spec(self.plan, c, self.settings)))
                if e:
                    sheet_sha[c.id] = e.sha256
        shas = []
        for panel in w.panels:
            spec = self._with_reference(w.specs[panel.id], panel, sheet_sha)
            if spec is None:
                return None
            entry = self.cache.get(self._render_key(spec))
            if entry is None:
                return None
            shas.append(entry.sha256)
        return self.cache.get(self._page_key(w.chapter, w.page, shas, composer))

    def _add_cached_pages(self, work: list[_PageWork], composer: Composer) -> None:
        others = [w for w in work if not w.selected]
        if not others or self.cancel_event.is_set() or self.settings.force:
            return
        entries = [self._cached_page_entry(w, composer) for w in others]
        if any(e is None for e in entries):
            return
        self._total += len(others)
        if self._pbar is not None:
            self._pbar.total = self._total
            self._pbar.refresh()
        for w, entry in zip(others, entries):
            w.job.start()
            w.job.cache_key = entry.key
            if not self._kept(w.job):
                self._adopt(w.job, entry)
            w.job.cache_hit = True
            w.job.finish(JobState.COMPLETED)
            w.selected = True
            self._record(w.job)

    def _exports(self, work: list[_PageWork], composer: Composer) -> None:
        pages = [w for w in work if w.selected]
        self._exported_pages = [w.page.page_number for w in pages]
        suffix = {"pdf": ".pdf", "cbz": ".cbz", "epub": ".epub", "webtoon": "-webtoon.png"}
        jobs = [
            Job(kind=JobKind(kind), artifact_id=self.plan.id, path=self.run_dir / f"{self.plan.id}{suffix[kind]}")
            for kind in self.settings.exports
        ]
        if jobs and self.settings.cover:
            jobs.insert(0, Job(kind=JobKind.COVER, artifact_id="cover", path=self.run_dir / "pages" / "cover.png"))
        bad = [w for w in pages if w.job.state is not JobState.COMPLETED]
        cover: Job | None = None
        for job in jobs:
            if self.cancel_event.is_set() or any(w.job.state is JobState.CANCELLED for w in bad):
                job.finish(JobState.CANCELLED, "cancelled")
            elif bad:
                names = ", ".join(str(w.page.page_number) for w in bad)
                job.finish(JobState.FAILED, f"not exported: page(s) {names} not available")
            elif cover is not None and cover.state is not JobState.COMPLETED:
                job.finish(JobState.FAILED, f"not exported: the cover {cover.state.value}: {cover.error}")
            else:
                job.start()
                try:
                    if job.kind is JobKind.COVER:
                        self._cover_job(job, pages, composer)
                    else:
                        self._export_job(job, pages, cover, composer)
                    job.finish(JobState.COMPLETED)
                except Exception as exc:
                    job.finish(JobState.FAILED, _error_text(exc))
            if job.kind is JobKind.COVER:
                cover = job
            self._record(job)
        self._export_jobs = jobs

    def _produce(self, job: Job, suffix: str, make: Callable[[Path], None], **meta: Any) -> None:
        """Take ``job``'s artifact from the run being resumed or the cache, else ``make(target)``
        it at a cache object path and commit it (``meta``: the cache entry's width/height)."""
        if self._kept(job):
            job.cache_hit = True
            return
        entry = None if self.settings.force else self.cache.get(job.cache_key)
        if entry is None:
            job.attempts = 1
            t0 = time.monotonic()
            target = self.cache.object_path(job.cache_key, suffix)
            make(target)
            job.execution_seconds = time.monotonic() - t0
            entry = self.cache.commit(job.cache_key, target, kind=job.kind.value, **meta)
        else:
            job.cache_hit = True
        self._adopt(job, entry)

    def _cover_art(self, pages: list[_PageWork]) -> list[Path]:
        """The cover's art: the characters' sheets of this run, else the first panel's image
        (cut from the first exported page when the panel itself is not in the run folder)."""
        sheets = [self.run_dir / "characters" / f"{c.id}.png" for c in self.plan.characters]
        sheets = [p for p in sheets if p.is_file()]
        if sheets:
            return sheets
        first = pages[0]
        panel_jobs = sorted(first.panel_jobs, key=lambda j: self._panel(first, j.artifact_id).position)
        if panel_jobs and panel_jobs[0].path.is_file():
            return [panel_jobs[0].path]
        return []

    def _cover_job(self, job: Job, pages: list[_PageWork], composer: Composer) -> None:
        if composer.compose_cover is None:
            raise ConfigError("the composer has no compose_cover: no cover page")
        art = self._cover_art(pages)
        if not art:  # only the composed page is at hand: its first panel, lettering included
            from PIL import Image

            first = pages[0]
            rect = panel_rects(
                first.page.layout,
                self.settings.page_width,
                self.settings.page_height,
                margin=self.settings.margin,
                gutter=self.settings.gutter,
                rtl=self.rtl,
            )[0]
            with Image.open(first.job.path) as im:
                art_images: list[Any] = [im.crop((rect.x0, rect.y0, rect.x1, rect.y1))]
        else:
            art_images = [str(p) for p in art]
        s = self.settings
        job.cache_key = _hash_json(
            {
                "composer": composer.version,
                "kind": "cover",
                "plan": {"title": self.plan.title, "style": self.plan.style},
                "names": [c.name for c in self.plan.characters],
                "settings": [s.page_width, s.page_height, s.dpi, s.margin, s.gutter, s.border],
                "art": [sha256_file(p) for p in art] or [first.job.sha256],
            }
        )

        def make(target: Path) -> None:
            assert composer.compose_cover is not None
            image = composer.compose_cover(self.plan, art_images, s)
            composer.save_page_png(image, target, dpi=s.dpi)

        self._produce(job, ".png", make, width=s.page_width, height=s.page_height)

    def _export_job(self, job: Job, pages: list[_PageWork], cover: Job | None, composer: Composer) -> None:
        s = self.settings
        paths = ([cover.path] if cover is not None else []) + [w.job.path for w in pages]
        shas = ([cover.sha256] if cover is not None else []) + [w.job.sha256 for w in pages]
        options: dict[str, Any] = {"rtl": self.rtl, "author": s.author, "cover": cover is not None}
        if job.kind is JobKind.PDF:
            options["quality"] = s.pdf_quality
        if job.kind is JobKind.WEBTOON:
            options["width"] = s.webtoon_width
        job.cache_key = _hash_json(
            {
                "composer": composer.version,
                "exports": EXPORTS_VERSION,
                "kind": job.kind.value,
                "dpi": s.dpi,
                "plan": self.plan.id,
                "title": self.plan.title,
                "language": self.plan.language,
                "pages": shas,
                "options": options,
            }
        )
        plan = self.plan

        def make(target: Path) -> None:
            if job.kind is JobKind.PDF:
                lettering = None
                if composer.page_lettering is not None:
                    lettering = [composer.page_lettering(plan, w.page, s) for w in pages]
                    if cover is not None:
                        cover_items = composer.cover_lettering(plan, s) if composer.cover_lettering else []
                        lettering.insert(0, cover_items)
                extra = {"author": s.author, "rtl": self.rtl, "quality": s.pdf_quality, "lettering": lettering}
                subject = f"{plan.title} — " + ", ".join(c.title for c in plan.chapters)
                composer.export_pdf(
                    paths, target, dpi=s.dpi, title=plan.title, language=plan.language, subject=subject, **extra
                )
            elif job.kind is JobKind.CBZ:
                composer.export_cbz(paths, target, plan=plan, rtl=self.rtl, cover=cover is not None, author=s.author)
            elif job.kind is JobKind.EPUB:
                if composer.export_epub is None:
                    raise ConfigError("the composer has no export_epub: no EPUB")
                composer.export_epub(paths, target, plan=plan, rtl=self.rtl, author=s.author)
            else:
                if composer.export_webtoon is None:
                    raise ConfigError("the composer has no export_webtoon: no webtoon")
                numbered = {w.page.page_number: w.job.path for w in pages}
                composer.export_webtoon(
                    plan, numbered, self.run_dir / "webtoon", s, width=s.webtoon_width, strip_path=target
                )

        suffix = ".png" if job.kind is JobKind.WEBTOON else "." + job.kind.value
        self._produce(job, suffix, make)
        if job.kind is JobKind.WEBTOON and job.cache_hit and composer.export_webtoon is not None:
            numbered = {w.page.page_number: w.job.path for w in pages}
            composer.export_webtoon(
                plan,
                numbered,
                self.run_dir / "webtoon",
                s,
                width=s.webtoon_width,
                strip_path=job.path,
                reuse_strip=True,
            )

    # -- bookkeeping ----------------------------------------------------------------
    def _row(self, job: Job) -> dict[str, Any]:
        spec: RenderSpec | None = job.spec
        flat = flat_metrics(job.metrics)
        done = job.state is JobState.COMPLETED and job.path.exists()
        path = job.path.relative_to(self.output_dir).as_posix() if done else ""
        return {
            "run_id": self.run_id,
            "plan_id": self.plan.id,
            "plan_sha256": self.plan_sha256,
            "chapter_id": job.chapter_id,
            "page_number": job.page_number,
            "panel_id": job.artifact_id if job.kind is JobKind.PANEL else None,
            "artifact_id": job.artifact_id,
            "kind": job.kind.value,
            "backend": self.backend.name if spec is not None else None,
            "backend_version": self.backend.cache_identity(spec) if spec is not None else None,
            # a per-panel workflow param, else the one the backend reports using (ComfyUI's template)
            "workflow": str(spec.params.get("workflow") or job.metrics.get("workflow") or "")
            if spec is not None
            else None,
            "prompt": spec.prompt if spec is not None else None,
            "negative_prompt": spec.negative_prompt if spec is not None else None,
            "seed": spec.seed if spec is not None else None,
            "width": job.width if job.width is not None else (spec.width if spec is not None else None),
            "height": job.height if job.height is not None else (spec.height if spec is not None else None),
            "path": path,
            "sha256": job.sha256 or None,
            "bytes": job.bytes,
            "cache_key": job.cache_key or None,
            "status": job.state.value,
            "error": job.error or None,
            "attempts": job.attempts,
            "cache_hit": job.cache_hit,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
            "seconds": job.seconds,
            **flat,
            "queue_seconds": flat.get("queue_seconds", job.queue_seconds),
            "execution_seconds": flat.get("execution_seconds", job.execution_seconds),
            "metrics": metrics_json(job.metrics),
        }

    def _record(self, job: Job) -> None:
        """Main thread: count a finished job, write its catalog row, report progress."""
        c = self.counts
        prefix = {
            JobKind.PANEL: "panels",
            JobKind.PAGE: "pages",
            JobKind.COVER: "pages",
            JobKind.CHARACTER_SHEET: "sheets",
        }.get(job.kind, "exports")
        if job.state is JobState.COMPLETED:
            made = {"panels": "rendered", "sheets": "rendered", "pages": "composed", "exports": "built"}[prefix]
            name = f"{prefix}_{'cached' if job.cache_hit else made}"
        elif job.state is JobState.CANCELLED:
            name = f"{prefix}_cancelled"
        else:
            name = f"{prefix}_failed"
            self._errors.append(f"{job.id}: {job.error}")
        if hasattr(c, name):
            setattr(c, name, getattr(c, name) + 1)
        row = self._row(job)
        self._rows.append(row)
        # resuming: an artifact finished before and unchanged keeps its original row
        existing = self._existing.get((job.kind.value, job.artifact_id))
        unchanged = (
            existing is not None
            and job.cache_hit
            and existing.get("status") == "completed"
            and existing.get("sha256") == job.sha256
            and existing.get("cache_key") == (job.cache_key or None)
        )
        if not unchanged:
            self.catalog.add(row)
        self._done += 1
        if self._pbar is not None:
            self._pbar.update(1)
        self._emit(
            ProgressEvent(
                "job_finished",
                self.run_id,
                self._done,
                self._total,
                job.id,
                job.kind.value,
                job.artifact_id,
                job.state.value,
                job.error,
                job.cache_hit,
            )
        )

    def _emit(self, event: ProgressEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def _finish(self, started: float, composer: Composer, error: str = "") -> RunSummary:
        self.catalog.flush()
        rows = self._rows
        any_failed = any(r["status"] == "failed" for r in rows) or bool(error)
        any_cancelled = any(r["status"] == "cancelled" for r in rows)
        if error:
            self._errors.append(f"run: {error}")
        if self.cancel_event.is_set() or (any_cancelled and not any_failed):
            status = JobState.CANCELLED.value
        elif any_failed:
            status = JobState.FAILED.value
        else:
            status = JobState.COMPLETED.value
        exports = {j.kind: j for j in getattr(self, "_export_jobs", [])}

        def done(kind: JobKind) -> Path | None:
            job = exports.get(kind)
            return job.path if job is not None and job.state is JobState.COMPLETED else None

        exported = [j for k, j in exports.items() if k is not JobKind.COVER]
        pages = sorted(
            (Path(r["path"]) for r in rows if r["kind"] == "page" and r["status"] == "completed"),
            key=lambda p: p.name,
        )
        summary = RunSummary(
            run_id=self.run_id,
            run_dir=self.run_dir,
            output_dir=self.output_dir,
            plan_id=self.plan.id,
            status=status,
            counts=self.counts,
            pdf=done(JobKind.PDF),
            cbz=done(JobKind.CBZ),
            epub=done(JobKind.EPUB),
            webtoon=done(JobKind.WEBTOON),
            cover=done(JobKind.COVER),
            pages=[self.output_dir / p for p in pages],
            exported_pages=list(getattr(self, "_exported_pages", []))
            if exported and any(j.state is JobState.COMPLETED for j in exported)
            else [],
            seconds=time.monotonic() - started,
            resumed=self.resumed,
            errors=list(self._errors),
            rows=rows,
        )
        now = utcnow().isoformat()
        self._manifest.update(
            {
                "status": status,
                "updated_at": now,
                "finished_at": now,
                "seconds": round(summary.seconds, 3),
                "counts": self.counts.to_dict(),
                "jobs": len(rows),
                "preflight": self._preflight,
                "pages": [p.relative_to(self.run_dir).as_posix() for p in summary.pages],
                "exported_pages": summary.exported_pages,
                "pdf": summary.pdf.name if summary.pdf else None,
                "cbz": summary.cbz.name if summary.cbz else None,
                "epub": summary.epub.name if summary.epub else None,
                "webtoon": summary.webtoon.relative_to(self.run_dir).as_posix() if summary.webtoon else None,
                "cover": summary.cover.relative_to(self.run_dir).as_posix() if summary.cover else None,
                "errors": summary.errors,
            }
        )
        atomic_write_json(self.run_dir / RUN_MANIFEST, self._manifest)
        self._emit(ProgressEvent("run_finished", self.run_id, self._done, self._total, status=status))
        return summary


def render_plan(
    plan: ComicPlan | dict | str | os.PathLike[str],
    *,
    backend: ImageBackend | str,
    output_dir: str | os.PathLike[str] = "outputs",
    settings: RenderSettings | None = None,
    plan_path: str | os.PathLike[str] | None = None,
    run_id: str | None = None,
    resume: bool = True,
    progress: bool = True,
    composer: Composer | None = None,
    on_event: Callable[[ProgressEvent], None] | None = None,
    cancel_event: threading.Event | None = None,
) -> RunSummary:
    """Render a comic plan: panels, pages, PDF and CBZ, with caching, resume and a catalog.

    Args:
        plan: a :class:`ComicPlan`, a plan dict, or the path of a plan file.
        backend: an :class:`ImageBackend` instance or a registered name (``"storyboard"``);
            a backend created from a name is closed at the end.
        output_dir: folder holding ``<plan_id>/<run_id>/``, ``cache/`` and ``catalog.parquet``.
        settings: render settings (default :class:`RenderSettings`).
        plan_path: the plan file, recorded in ``run.json``.
        run_id: use (or resume) this run id.
        resume: continue the latest unfinished run of the same plan, backend and settings.
        progress: show a tqdm progress bar.
        composer: page composition/export functions (default: :mod:`storybench.compose`).
        on_event: called with a :class:`ProgressEvent` after each job and at start/end.
        cancel_event: set it (from another thread) to cancel the run.

    Returns:
        The :class:`RunSummary`; ``summary.ok`` is false when anything failed or was
        cancelled (the CLI exits with ``summary.exit_code``).

    Raises:
        ConfigError: bad ``only_pages``, or no composer available.
        PlanValidationError: ``plan`` is a dict or file that is not a valid plan.
        UnknownBackendError: ``backend`` names no registered backend.
        OSError: the output folder cannot be written.
    """
    engine = BatchEngine(
        plan,
        backend=backend,
        output_dir=output_dir,
        settings=settings,
        plan_path=plan_path,
        run_id=run_id,
        resume=resume,
        progress=progress,
        composer=composer,
        on_event=on_event,
        cancel_event=cancel_event,
    )
    return engine.run()
