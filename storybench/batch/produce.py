"""Reuse an artifact or produce it: the one path every job of a render goes through.

:meth:`Producer.produce` runs one job, in a worker thread or in the calling
thread: a job cancelled before it starts ends ``cancelled``; otherwise the
artifact is kept from the run being resumed (:meth:`RunFolder.kept
<storybench.batch.run_folder.RunFolder.kept>`), or linked from the cache
(:meth:`Producer.cached`; skipped under ``settings.force``), or made by the job's
maker — render through the backend with retries (:meth:`Producer.render`),
compose a page (:meth:`Producer.page_maker`), make a cover or an export
(:class:`storybench.batch.exporting.Exporter`) — and stored in the cache, then placed in the run
folder. An error fails the job with its text; :class:`~storybench.exceptions.Cancelled`
cancels it.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from storybench.batch.cache import ArtifactCache, CacheEntry
from storybench.batch.catalog_row import metrics_json
from storybench.batch.composer import Composer
from storybench.batch.jobs import Job, JobState, call_with_retries
from storybench.batch.run_folder import RunFolder
from storybench.batch.work import PageWork
from storybench.config import RenderSettings
from storybench.exceptions import Cancelled, StorybenchError, TransientBackendError
from storybench.plan.models import ComicPlan
from storybench.render.base import ImageBackend
from storybench.render.spec import RenderSpec

__all__ = ["Maker", "Producer", "error_text"]

#: Makes a job's artifact, stores it in the cache and returns the cache entry.
Maker = Callable[[Job], CacheEntry]


def error_text(exc: BaseException) -> str:
    """How an error is shown in a job, the catalog and ``run.json``: a storybench
    error's message, else ``"<ExceptionType>: <message>"``."""
    if isinstance(exc, StorybenchError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class Producer:
    """Runs jobs for one render.

    Args:
        plan: the plan.
        backend: the image backend.
        settings: render settings (``force``, ``retries``, ``backoff_seconds``, ``dpi``).
        cache: the output folder's cache.
        folder: the run's folder (what a resumed run kept).
        cancel_event: set to cancel; checked before a job and between retries.

    Attributes:
        preflight_report: ``{"specs", "seconds", "result", "error"}`` of the preflight
            (``run.json``'s ``preflight``).
        preflight_error: ``"preflight failed: ..."`` when it failed, else ``""``;
            renders that still need the backend then fail with it.
    """

    def __init__(
        self,
        plan: ComicPlan,
        backend: ImageBackend,
        settings: RenderSettings,
        cache: ArtifactCache,
        folder: RunFolder,
        cancel_event: threading.Event,
    ) -> None:
        self.plan = plan
        self.backend = backend
        self.settings = settings
        self.cache = cache
        self.folder = folder
        self.cancel_event = cancel_event
        self.preflight_report: dict[str, Any] = {}
        self.preflight_error = ""

    # -- the one path -------------------------------------------------------------
    def cached(self, key: str) -> CacheEntry | None:
        """The cache entry for ``key``; ``None`` on a miss or under ``settings.force``."""
        return None if self.settings.force else self.cache.get(key)

    def needs_making(self, job: Job) -> bool:
        """``job``'s artifact is neither kept from the resumed run nor reusable from the cache."""
        return self.cached(job.cache_key) is None and not self.folder.kept(job)

    def produce(self, job: Job, make: Maker) -> Job:
        """Finish ``job``: kept, from the cache, or made by ``make`` (see module doc).

        Returns:
            ``job``, finished (``completed``, ``failed`` or ``cancelled``).
        """
        if self.cancel_event.is_set():
            job.finish(JobState.CANCELLED, "cancelled")
            return job
        job.start()
        try:
            if self.folder.kept(job):
                job.cache_hit = True
            else:
                entry = self.cached(job.cache_key)
                job.cache_hit = entry is not None
                self._adopt(job, entry if entry is not None else make(job))
            job.finish(JobState.COMPLETED)
        except Cancelled as exc:
            job.finish(JobState.CANCELLED, str(exc))
        except Exception as exc:
            job.finish(JobState.FAILED, error_text(exc))
        return job

    def _adopt(self, job: Job, entry: CacheEntry) -> None:
        self.cache.materialize(entry, job.path)
        job.sha256, job.bytes, job.width, job.height = entry.sha256, entry.bytes, entry.width, entry.height

    # -- rendering ------------------------------------------------------------------
    def preflight(self, specs: Sequence[RenderSpec]) -> None:
        """Call ``backend.preflight(specs)`` once (not when ``specs`` is empty or the
        run is cancelled) and record the outcome in :attr:`preflight_report`."""
        t0 = time.monotonic()
        self.preflight_report = {"specs": len(specs), "seconds": 0.0, "result": {}, "error": None}
        if not specs or self.cancel_event.is_set():
            return
        try:
            result = self.backend.preflight(specs) or {}
            self.preflight_report["result"] = json.loads(metrics_json(result))
        except Exception as exc:
            self.preflight_error = f"preflight failed: {error_text(exc)}"
            self.preflight_report["error"] = self.preflight_error
        self.preflight_report["seconds"] = round(time.monotonic() - t0, 6)

    def render(self, job: Job) -> CacheEntry:
        """Maker of a character sheet or panel: the backend's image for ``job.spec``,
        with retries of transient errors, as PNG in the cache.

        Raises:
            StorybenchError: the preflight failed.
            Cancelled: the run was cancelled between attempts.
            RetryExhausted: every attempt failed with a transient error.
        """
        spec = job.spec
        if self.preflight_error:
            raise StorybenchError(self.preflight_error)
        if spec is None:
            raise StorybenchError(f"{job.id} has no render spec")

        def attempt() -> tuple[bytes, int, int, dict[str, Any], float]:
            t0 = time.monotonic()
            result = self.backend.render(spec)
            seconds = time.monotonic() - t0
            png, w, h = self._as_png(result.image, job)
            return png, w, h, dict(result.metrics), seconds

        def count(n: int) -> None:
            job.attempts = n

        png, w, h, metrics, seconds = call_with_retries(
            attempt,
            retries=self.settings.retries,
            backoff_seconds=self.settings.backoff_seconds,
            cancel_event=self.cancel_event,
            on_attempt=count,
        )
        job.metrics, job.execution_seconds = metrics, seconds
        return self.cache.put_bytes(job.cache_key, png, kind=job.kind.value, width=w, height=h)

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

    @staticmethod
    def cache_only(job: Job) -> CacheEntry:
        """Maker of an artifact found in the cache earlier in the run (a page not
        rendered in this run): it fails the job when the entry has gone since.

        Raises:
            StorybenchError: always.
        """
        raise StorybenchError(f"{job.id}: its cache entry {job.cache_key} left the cache during the run")

    # -- composing -----------------------------------------------------------------------
    def page_maker(self, w: PageWork, composer: Composer) -> Maker:
        """Maker of ``w``'s page: composed from its panels' files, saved as PNG."""

        def make(job: Job) -> CacheEntry:
            job.attempts = 1
            t0 = time.monotonic()
            images = {j.artifact_id: str(j.path) for j in w.panel_jobs}
            image = composer.compose_page(self.plan, w.page, images, self.settings)
            target = self.cache.object_path(job.cache_key, ".png")
            composer.save_page_png(image, target, dpi=self.settings.dpi)
            job.execution_seconds = time.monotonic() - t0
            return self.cache.commit(job.cache_key, target, kind="page", width=image.width, height=image.height)

        return make

    def lettering_check(self, w: PageWork, composer: Composer) -> Callable[[Job], None]:
        """What sets ``w``'s page job's lettering warnings (the composer's ``page_warnings``:
        text that cannot fit at the minimum readable size), cached page or not."""

        def check(job: Job) -> None:
            if composer.page_warnings is not None:
                job.warnings = [str(x) for x in composer.page_warnings(self.plan, w.page, self.settings)]

        return check
