"""Jobs in flight: handing jobs to thread pools, waiting for them, and cancelling.

:class:`Dispatcher` submits a job with its maker to a pool (through
:meth:`Producer.produce <storybench.batch.produce.Producer.produce>`), waits for
the first of several to finish while watching the cancel event, and hands each
finished job to the engine's ``record`` callback in the calling thread. Once the
cancel event is set, the backend's ``cancel()`` is called once, so remote jobs
(RunPod, Runware) stop instead of running on.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from storybench.batch.jobs import Job, JobState
from storybench.batch.produce import Maker, Producer, error_text
from storybench.render.base import ImageBackend

__all__ = ["Dispatcher", "Futures"]

#: Jobs in flight: each future to its job.
Futures = dict[Future[Job], Job]


class Dispatcher:
    """Runs jobs on thread pools for one render.

    Args:
        producer: runs each job (cache or make).
        backend: asked to ``cancel()`` once the run is cancelled.
        cancel_event: the run's cancel event.
        record: called with each finished job, in the thread that waits.
        poll_seconds: how often a wait looks at ``cancel_event``, seconds.
        on_status: called with the backend's ``status_text`` while waiting (e.g. the
            ledger's progress display of an outage).
    """

    def __init__(
        self,
        producer: Producer,
        backend: ImageBackend,
        cancel_event: threading.Event,
        record: Callable[[Job], None],
        poll_seconds: float,
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        self.producer = producer
        self.backend = backend
        self.cancel_event = cancel_event
        self.record = record
        self.poll_seconds = poll_seconds
        self.on_status = on_status
        self._lock = threading.Lock()
        self._backend_cancelled = False

    def cancel(self) -> None:
        """Cancel the run: set the cancel event and cancel the backend (see :meth:`cancel_backend`)."""
        self.cancel_event.set()
        self.cancel_backend()

    @contextlib.contextmanager
    def pools(self, workers: int) -> Iterator[tuple[ThreadPoolExecutor, ThreadPoolExecutor]]:
        """A render pool of ``workers`` threads and one composing thread, shut down on exit.

        One composing thread: pages overlap with rendering, and composers (fonts,
        FreeType faces) need not be thread-safe. An exception inside (Ctrl-C or a
        bug) cancels the run first, so queued jobs do not start while the pools shut down.
        """
        with (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sb-render") as pool,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="sb-compose") as page_pool,
        ):
            try:
                yield pool, page_pool
            except BaseException:
                self.cancel()
                raise

    def cancel_backend(self) -> None:
        """Ask the backend to stop its renders in flight, once per run (errors ignored)."""
        with self._lock:
            if self._backend_cancelled:
                return
            self._backend_cancelled = True
        with contextlib.suppress(Exception):
            self.backend.cancel()

    def submit(
        self,
        pool: ThreadPoolExecutor,
        job: Job,
        make: Maker,
        *,
        prepare: Callable[[Job], None] | None = None,
        then: Callable[[Job], None] | None = None,
    ) -> Futures:
        """Queue ``job`` on ``pool``; returns ``{future: job}``. ``prepare`` runs first in
        the worker, whether or not the artifact comes from the cache (e.g. a page's
        lettering check); ``then`` runs in the worker once the artifact is there (e.g. a
        candidate's consistency score), before the job is recorded."""
        job.submitted = time.monotonic()
        if then is not None:
            return {pool.submit(self._then, job, make, then): job}
        if prepare is None:
            return {pool.submit(self.producer.produce, job, make): job}
        return {pool.submit(self._prepared, job, make, prepare): job}

    def _then(self, job: Job, make: Maker, then: Callable[[Job], None]) -> Job:
        self.producer.produce(job, make)
        if job.state is JobState.COMPLETED:
            try:
                then(job)
            except Exception as exc:  # a failed score is reported, never a reason to lose the image
                job.warnings = [*job.warnings, f"after rendering: {error_text(exc)}"]
        return job

    def _prepared(self, job: Job, make: Maker, prepare: Callable[[Job], None]) -> Job:
        try:
            prepare(job)
        except Exception as exc:  # a failed check is reported, never a reason to lose the page
            job.warnings = [f"lettering check failed: {exc}"]
        return self.producer.produce(job, make)

    def wait_any(self, futures: Futures) -> set[Future[Job]]:
        """Wait until one of ``futures`` is done. Meanwhile, once ``cancel_event`` is set
        (by the engine's ``cancel()`` or by the caller directly), cancel the backend."""
        while True:
            timeout = None if self._backend_cancelled else self.poll_seconds
            done, _ = wait(list(futures), timeout=timeout, return_when=FIRST_COMPLETED)
            if self.on_status is not None:
                self.on_status(self.backend.status_text)
            if self.cancel_event.is_set() and not self._backend_cancelled:
                self.cancel_backend()
            if done:
                return done

    def finished(self, futures: Futures) -> list[Job]:
        """Wait for at least one of ``futures``, remove the finished ones from it,
        record them (:meth:`settle`) and return their jobs."""
        return [self.settle(fut, futures.pop(fut)) for fut in self.wait_any(futures)]

    def drain(self, futures: Futures) -> None:
        """Wait for every job of ``futures`` and record each."""
        while futures:
            self.finished(futures)

    def settle(self, fut: Future[Job], job: Job) -> Job:
        """Record the finished job of ``fut``. An exception that escaped the worker fails
        the job; ``KeyboardInterrupt``/``SystemExit`` are then raised again here."""
        exc = fut.exception()
        if exc is not None and not job.state.finished:
            job.finish(JobState.FAILED, error_text(exc))
        self.record(job)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise exc
        return job
