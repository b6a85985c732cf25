"""The batch engine: renders a comic plan's panels, composes its pages, exports them (PDF, CBZ, EPUB, webtoon).

Order of work in a run (see :mod:`storybench.batch.jobs` for job states), one
method per phase of :meth:`BatchEngine._execute`:

1. ``backend.preflight(specs)`` once, with the specs that really need rendering;
2. character sheets, one per character in the panels being rendered, when the
   backend's ``supports_reference_images`` is true (or candidates are scored against them);
   with ``settings.candidates`` > 1, then the candidates of each panel without a picked
   seed, scored and picked (:mod:`storybench.batch.candidates`);
3. panels, ``concurrency`` at a time on a thread pool; each page is composed as soon
   as its panels are done, on one composing thread (so a composer need not be thread-safe);
4. the cover (``settings.cover``), then the exports of ``settings.exports`` (PDF, CBZ,
   EPUB, webtoon: :mod:`storybench.batch.exporting`), once every page is there.

Every artifact is content-addressed (:mod:`storybench.batch.keys`,
:mod:`storybench.batch.cache`), and every job goes through one path
(:meth:`Producer.produce <storybench.batch.produce.Producer.produce>`): whatever
is in the cache is linked into the run instead of being produced again, unless
``settings.force`` (which still keeps what the run being resumed had already made).

Folder of a run: ``<output_dir>/<plan_id>/<run_id>/``; a render of the same plan with
the same backend and settings resumes the latest such run that did not complete
(:mod:`storybench.batch.run_folder`). Every job's row goes to ``catalog.parquet``
(:mod:`storybench.batch.catalog`).

``settings.only_pages``: only those pages' panels are rendered and composed; the
PDF/CBZ hold the whole comic when every other page can be taken from the cache as
it is, otherwise only the selected pages (``RunSummary.exported_pages`` says which).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from storybench.batch.cache import ArtifactCache
from storybench.batch.candidates import (
    SheetImages,
    apply_picks,
    candidate_sets,
    check_regenerate,
    save_picks,
    score_job,
)
from storybench.batch.catalog import CatalogWriter
from storybench.batch.composer import Composer
from storybench.batch.counts import RunCounts
from storybench.batch.dispatch import Dispatcher, Futures
from storybench.batch.exporting import Exporter, export_jobs, produce_exports
from storybench.batch.jobs import Job, JobKind, JobState
from storybench.batch.keys import RunKeys
from storybench.batch.ledger import ProgressEvent, RunLedger
from storybench.batch.produce import Producer, error_text
from storybench.batch.run_folder import ResumeMatch, RunFolder, page_file_name, start_fields
from storybench.batch.runs import run_fingerprint
from storybench.batch.summary import RunSummary
from storybench.batch.work import (
    Blocker,
    PageGate,
    PageWork,
    as_plan,
    cached_page_keys,
    key_panels_after_sheets,
    missing_panels,
    missing_sheet,
    panel_jobs,
    plan_pages,
    selected_pages,
    sheet_jobs,
)
from storybench.config import RenderSettings
from storybench.plan.models import ComicPlan
from storybench.plan.styles import get_style
from storybench.render.base import ImageBackend, get_image_backend
from storybench.scoring import get_scorer

__all__ = ["BatchEngine", "ProgressEvent", "page_file_name", "render_plan"]


class BatchEngine:
    """One render of one plan; build it, then call :meth:`run` (once).

    Args:
        plan: the plan (a :class:`ComicPlan`, a plan dict, or a plan file path).
        backend: an :class:`ImageBackend` or a registered backend name (``"storyboard"``).
        output_dir: folder holding ``<plan_id>/<run_id>/``, ``cache/`` and ``catalog.parquet``.
        settings: render settings (default :class:`RenderSettings`).
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
        PlanValidationError: ``plan`` is a dict or file that is not a valid plan.
        UnknownBackendError: ``backend`` is an unknown name.
    """

    #: How often the wait for jobs looks at ``cancel_event``, seconds.
    CANCEL_POLL_SECONDS = 0.05

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
        if isinstance(plan, (str, os.PathLike)):
            plan_path = plan_path or plan
        self.plan = as_plan(plan)
        self.plan_path = str(plan_path) if plan_path else None
        self._owns_backend = isinstance(backend, str)
        self.backend: ImageBackend = get_image_backend(backend) if isinstance(backend, str) else backend
        self.output_dir = Path(output_dir)
        self.settings = settings or RenderSettings()
        self.requested_run_id = run_id
        self.resume = resume
        self._composer = composer
        self.cancel_event = cancel_event or threading.Event()
        self.cache = ArtifactCache(self.output_dir / "cache")
        self.catalog = CatalogWriter(
            self.output_dir, batch_rows=catalog_batch_rows, flush_seconds=catalog_flush_seconds
        )
        self.plan_sha256 = self.plan.sha256()
        direction = self.settings.reading_direction
        self.rtl = (get_style(self.plan.style).reading_direction if direction == "auto" else direction) == "rtl"
        self.uses_references = self.backend.supports_reference_images
        self.selected = selected_pages(self.plan, self.settings.only_pages)
        check_regenerate(self.plan, self.settings.regenerate)
        self.folder = RunFolder(self.output_dir, self.plan.id)
        self.ledger = RunLedger(self.catalog, self.backend, self.folder, on_event=on_event, progress=progress)
        self.producer = Producer(self.plan, self.backend, self.settings, self.cache, self.folder, self.cancel_event)
        self.dispatcher = Dispatcher(
            self.producer,
            self.backend,
            self.cancel_event,
            self._record,
            poll_seconds=self.CANCEL_POLL_SECONDS,
            on_status=self.ledger.show_status,
        )
        self.keys = RunKeys(self.plan, self.backend, self.settings, self.rtl, self.folder, self.uses_references)
        self._exports: list[Job] = []
        self._exported_pages: list[int] = []
        self._low_consistency: list[tuple[str, float]] = []

    # -- public -------------------------------------------------------------
    @property
    def run_id(self) -> str:
        """The run's id (``""`` until :meth:`run` has chosen it)."""
        return self.folder.run_id

    @property
    def run_dir(self) -> Path:
        """The run's folder, ``<output_dir>/<plan_id>/<run_id>``."""
        return self.folder.path

    @property
    def resumed(self) -> bool:
        """This run picked up one that had started before."""
        return self.folder.resumed

    @property
    def counts(self) -> RunCounts:
        """Per-kind counts of the jobs finished so far."""
        return self.ledger.counts

    def cancel(self) -> None:
        """Stop the run: nothing new starts, the backend is asked to stop, jobs not
        finished end ``cancelled``. Safe to call from any thread."""
        self.dispatcher.cancel()

    def run(self) -> RunSummary:
        """Do the whole render and return its summary.

        Failed jobs do not raise: they are recorded (job, catalog, ``run.json``) and
        the summary's status is ``failed``. A ``KeyboardInterrupt`` cancels the run,
        records it, and is raised again.

        Raises:
            ConfigError: ``run_id`` is being rendered by another process.
            OSError: the output folder cannot be written.
        """
        started = time.monotonic()
        composer = Composer.resolve(self._composer)
        self._start(composer)
        try:
            self._execute(composer)
        except BaseException as exc:  # record the stop in run.json and the catalog, then re-raise
            if isinstance(exc, KeyboardInterrupt):
                self.cancel()
            with contextlib.suppress(Exception):
                self._finish(started, error=error_text(exc))
            raise
        else:
            return self._finish(started)
        finally:
            self.ledger.close()
            if self._owns_backend:
                self.backend.close()
            self.folder.close()

    # -- setup --------------------------------------------------------------
    def _start(self, composer: Composer) -> None:
        fingerprint = run_fingerprint(self.settings, self.backend.run_identity())
        match = ResumeMatch(self.plan_sha256, self.backend.name, fingerprint) if self.resume else None
        self.folder.open(run_id=self.requested_run_id, match=match)
        self.cache.sweep_temp_files()
        self.folder.start(start_fields(self.plan, self.plan_path, self.backend, composer.version, self.settings))

    # -- the run, phase by phase ----------------------------------------------------
    def _execute(self, composer: Composer) -> None:
        work = plan_pages(self.plan, self.settings, self.folder, selected=self.selected, rtl=self.rtl)
        pages = [w for w in work if w.selected]
        sheets = self._sheet_jobs(pages)
        panels = sum(len(w.panel_jobs) for w in pages)
        exports = len(export_jobs(self.plan.id, self.settings, self.folder))
        self.ledger.start(self.plan_sha256, len(sheets) + panels + len(pages) + exports)
        self._preflight(sheets, pages)
        workers = self.settings.concurrency or self.backend.default_concurrency or 1
        with self.dispatcher.pools(workers) as (pool, page_pool):
            blocked = self._render_sheets(pool, sheets, pages)
            if self.settings.candidates > 1:
                self._render_candidates(pool, pages, sheets, blocked)
            self._render_panels_and_pages(pool, page_pool, pages, blocked, composer)
        self._add_cached_pages([w for w in work if not w.selected], composer)
        self._export(work, composer)

    def _sheet_jobs(self, pages: list[PageWork]) -> list[Job]:
        """The character sheets, needed for references and to score candidates against."""
        with_sheets = self.uses_references or self.settings.candidates > 1
        return sheet_jobs(self.plan, self.settings, self.folder, pages, self.backend) if with_sheets else []

    def _preflight(self, sheets: list[Job], pages: list[PageWork]) -> None:
        """Phase 1: the keys known before rendering (sheets always, panels unless their
        sheet must be rendered first), then the backend's preflight with the specs it
        will really have to render."""
        known = {j.artifact_id: e.sha256 for j in sheets if (e := self.cache.get(j.cache_key))}
        specs = [j.spec for j in sheets if j.spec is not None and self.producer.needs_making(j)]
        for w, job in panel_jobs(pages):
            keyed = self.keys.panel(w.specs[job.artifact_id], w.panel(job.artifact_id), known)
            if keyed.key is None:  # its sheet must be rendered first
                specs.append(keyed.spec)
                continue
            job.spec, job.cache_key = keyed.known()
            if self.producer.needs_making(job):
                specs.append(keyed.spec)
        self.producer.preflight(specs)

    def _render_sheets(self, pool: ThreadPoolExecutor, sheets: list[Job], pages: list[PageWork]) -> dict[str, Job]:
        """Phase 2: the character sheets, then the panel specs that carry them.

        Returns:
            Panel id to the failed sheet of each panel that cannot be rendered.
        """
        if not sheets:
            return {}
        futures: Futures = {}
        for job in sheets:
            futures.update(self.dispatcher.submit(pool, job, self.producer.render))
        self.dispatcher.drain(futures)
        return key_panels_after_sheets(pages, sheets, self.keys)

    def _render_candidates(
        self, pool: ThreadPoolExecutor, pages: list[PageWork], sheets: list[Job], blocked: dict[str, Job]
    ) -> None:
        """Phase 2b (``settings.candidates`` > 1): the candidates of every panel without a
        picked seed on the render pool, each scored in its worker; then the pick
        (:mod:`storybench.batch.candidates`), saved into the plan file with ``pick="best"``."""
        sheet_sha = {j.artifact_id: j.sha256 for j in sheets if j.state is JobState.COMPLETED}
        sets = candidate_sets(
            pages, self.keys, sheet_sha, self.settings.candidates, blocked, regenerate=self.settings.regenerate
        )
        images = SheetImages({j.artifact_id: j.path for j in sheets if j.state is JobState.COMPLETED})
        scorer = get_scorer(self.settings.scorer)
        jobs = [j for cs in sets for j in cs.jobs]
        self.ledger.grow(len(jobs))
        futures: Futures = {}
        for job in jobs:
            then = partial(score_job, scorer=scorer, sheets=images)
            futures.update(self.dispatcher.submit(pool, job, self.producer.render, then=then))
        self.dispatcher.drain(futures)
        picks = apply_picks(
            sets, self.keys, sheet_sha, best=self.settings.pick == "best", threshold=self.settings.consistency_threshold
        )
        self._low_consistency = picks.low
        if picks.seeds and self.plan_path:
            save_picks(self.plan_path, picks.seeds)

    def _render_panels_and_pages(
        self,
        pool: ThreadPoolExecutor,
        page_pool: ThreadPoolExecutor,
        pages: list[PageWork],
        blocked: dict[str, Job],
        composer: Composer,
    ) -> None:
        """Phase 3: the panels on the render pool; each page on the composing thread
        as soon as its panels are finished."""
        futures: Futures = {}
        for _, job in panel_jobs(pages):
            sheet = blocked.get(job.artifact_id)
            if sheet is None:
                futures.update(self.dispatcher.submit(pool, job, self.producer.render))
            else:
                self._skip(job, missing_sheet(sheet))
        gate = PageGate(pages, {j.id for j in futures.values()})
        for w in gate.ready():
            futures.update(self._compose(page_pool, w, composer))
        while futures:
            for job in self.dispatcher.finished(futures):
                page = gate.panel_finished(job.artifact_id) if job.kind is JobKind.PANEL else None
                if page is not None:
                    futures.update(self._compose(page_pool, page, composer))

    def _add_cached_pages(self, others: list[PageWork], composer: Composer) -> None:
        """After phase 3: the pages not selected join the exports when each of them,
        and its panels, is in the cache as the plan is now (all or none)."""
        if not others or self.cancel_event.is_set() or self.settings.force:
            return
        keys = cached_page_keys(others, self.keys, self.producer.cached, composer.version)
        if keys is None:
            return
        self.ledger.grow(len(others))
        for w, key in zip(others, keys, strict=True):
            w.job.cache_key = key
            self._record(self.producer.produce(w.job, self.producer.cache_only))
            w.selected = True

    def _export(self, work: list[PageWork], composer: Composer) -> None:
        """Phase 4: the cover, then the exports of ``settings.exports`` of the pages composed or reused."""
        done = [w for w in work if w.selected]
        self._exported_pages = [w.page.page_number for w in done]
        self._exports = export_jobs(self.plan.id, self.settings, self.folder)
        produce_exports(
            self._exports,
            done,
            Exporter(self.plan, self.settings, self.rtl, self.cache, self.folder, composer),
            self.producer,
            self.keys,
            cancelling=self.cancel_event.is_set,
            record=self._record,
            skip=self._skip,
        )

    # -- starting jobs --------------------------------------------------------------
    def _compose(self, pool: ThreadPoolExecutor, w: PageWork, composer: Composer) -> Futures:
        """Queue ``w``'s page, or finish it at once when one of its panels is missing."""
        blocker = missing_panels(w.panel_jobs, cancelling=self.cancel_event.is_set())
        if blocker is not None:
            self._skip(w.job, blocker)
            return {}
        w.job.cache_key = self.keys.page(w.chapter, w.page, [j.sha256 for j in w.panel_jobs], composer.version)
        return self.dispatcher.submit(
            pool, w.job, self.producer.page_maker(w, composer), prepare=self.producer.lettering_check(w, composer)
        )

    def _skip(self, job: Job, blocker: Blocker) -> None:
        """Finish a job that cannot start (what it needs failed or was cancelled)."""
        job.finish(JobState.CANCELLED if blocker.cancelled else JobState.FAILED, blocker.error)
        self._record(job)

    # -- bookkeeping ----------------------------------------------------------------
    def _record(self, job: Job) -> None:
        """Main thread: count a finished job, write its catalog row, report progress;
        resuming, an artifact finished before and unchanged keeps its original row."""
        self.ledger.record(job, unchanged=self.folder.unchanged(job))

    def _finish(self, started: float, error: str = "") -> RunSummary:
        self.ledger.flush()
        status = self.ledger.status(cancelled=self.cancel_event.is_set(), error=error)
        seconds = time.monotonic() - started
        summary = self.ledger.summary(self.folder, status, self._exports, self._exported_pages, seconds)
        summary.low_consistency = list(self._low_consistency)
        self.folder.finish(status, {**summary.manifest_fields(), "preflight": self.producer.preflight_report})
        self.ledger.finish(status)
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
        plan, backend, output_dir, settings, plan_path, run_id, resume, progress,
            composer, on_event, cancel_event: as for :class:`BatchEngine`; a backend
            created from a name is closed at the end.

    Returns:
        The :class:`RunSummary`; ``summary.ok`` is false when anything failed or was
        cancelled (the CLI exits with ``summary.exit_code``).

    Raises:
        ConfigError: bad ``only_pages``, or ``run_id`` is being rendered by another process.
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
