"""What a render has finished so far: counts, catalog rows, errors and progress.

The batch engine hands every finished job to :meth:`RunLedger.record` from the
calling thread: the job is counted (:class:`~storybench.batch.counts.RunCounts`),
its :class:`~storybench.batch.catalog_row.CatalogRow` is kept for the summary and
queued for the catalog (unless it is the unchanged row of the run being resumed),
a failure's text is noted, the progress bar moves and ``on_event`` receives a
:class:`ProgressEvent`. At the end it gives the run's status and its
:class:`~storybench.batch.summary.RunSummary`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storybench.batch.catalog import CatalogWriter
from storybench.batch.catalog_row import CatalogRow, job_row
from storybench.batch.counts import RunCounts
from storybench.batch.jobs import Job, JobKind, JobState
from storybench.batch.run_folder import RunFolder
from storybench.batch.summary import RunSummary
from storybench.render.base import ImageBackend

__all__ = ["ProgressEvent", "RunLedger"]


@dataclass(frozen=True)
class ProgressEvent:
    """What ``on_event`` receives.

    Attributes:
        type: ``"run_started"``, ``"job_finished"``, ``"backend_status"`` or ``"run_finished"``.
        run_id: the run.
        done, total: finished jobs and all jobs of this call so far.
        job_id, kind, artifact_id, state, error, cache_hit: the finished job
            (``job_finished`` only).
        status: the run's status (``run_finished`` only).
        message: the backend's state, e.g. ``waiting for ComfyUI at URL (down 23 s)``
            (``backend_status`` only; ``""`` when it is over).
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
    message: str = ""


#: Errors of pages and exports that only follow from failed panels, pages or sheets: left
#: to the catalog, so the run's errors name causes, not consequences.
CONSEQUENCES = ("panel(s) not available", "not exported", "character sheet ")


class RunLedger:
    """The finished jobs of one call of the batch engine.

    Args:
        catalog: where rows go.
        backend: the image backend (recorded in sheet and panel rows).
        folder: the run's folder (run id, plan id, output folder).
        on_event: called with a :class:`ProgressEvent` at start, per job and at the end.
        progress: show a tqdm progress bar (terminal or notebook).

    Attributes:
        counts: per-kind counts.
        rows: the catalog rows of this call's jobs, in the order they finished.
        errors: one line per distinct failure, ``"<job ids>: <error>"`` (a failure every
            job met, such as a preflight problem or an outage, once, with the first job ids;
            a page or export that failed only because its panels did is left out), then
            ``"run: <error>"`` when the run itself stopped on an error.
        done, total: finished jobs and all jobs known so far.
    """

    def __init__(
        self,
        catalog: CatalogWriter,
        backend: ImageBackend,
        folder: RunFolder,
        *,
        on_event: Callable[[ProgressEvent], None] | None,
        progress: bool,
    ) -> None:
        self.catalog = catalog
        self.backend = backend
        self.folder = folder
        self.on_event = on_event
        self.progress = progress
        self.counts = RunCounts()
        self.rows: list[CatalogRow] = []
        self.errors: list[str] = []
        self._failed: dict[str, list[str]] = {}  # error text -> ids of the jobs that failed with it
        self._status = ""
        self.warnings: list[str] = []
        self.done = 0
        self.total = 0
        self.plan_sha256 = ""
        self._pbar: Any = None

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.folder.run_id

    def start(self, plan_sha256: str, total: int) -> None:
        """The run (of the plan with content hash ``plan_sha256``) starts with ``total`` jobs."""
        from tqdm.auto import tqdm

        self.plan_sha256, self.total = plan_sha256, total
        label = f"{self.folder.plan_id} {self.run_id}"
        self._pbar = tqdm(total=total, desc=label, unit="job", disable=not self.progress, leave=True)
        self._emit(ProgressEvent("run_started", self.run_id, 0, total))

    def grow(self, jobs: int) -> None:
        """``jobs`` more jobs joined the run."""
        self.total += jobs
        if self._pbar is not None:
            self._pbar.total = self.total
            self._pbar.refresh()

    def record(self, job: Job, *, unchanged: bool) -> None:
        """Count a finished ``job`` and keep its row; the catalog gets the row unless
        ``unchanged`` (the resumed run's row for it stays)."""
        folder = self.folder
        row = job_row(
            job,
            run_id=folder.run_id,
            plan_id=folder.plan_id,
            plan_sha256=self.plan_sha256,
            backend=self.backend,
            output_dir=folder.output_dir,
        )
        self.counts.add(job.kind, job.state, job.cache_hit)
        if job.state is JobState.FAILED and not job.error.startswith(CONSEQUENCES):
            self._failed.setdefault(job.error, []).append(job.id)
        self.warnings.extend(job.warnings)
        self.rows.append(row)
        if not unchanged:
            self.catalog.add(row)
        self.done += 1
        if self._pbar is not None:
            self._pbar.update(1)
        self._emit(
            ProgressEvent(
                "job_finished",
                self.run_id,
                self.done,
                self.total,
                job.id,
                job.kind.value,
                job.artifact_id,
                job.state.value,
                job.error,
                job.cache_hit,
            )
        )

    def status(self, *, cancelled: bool, error: str = "") -> str:
        """The run's final status: ``cancelled`` when ``cancelled`` or when jobs were
        cancelled and none failed, ``failed`` when a job failed or ``error`` is set,
        else ``completed``. Notes ``error`` in :attr:`errors`."""
        states = {r.status for r in self.rows}
        any_failed = JobState.FAILED.value in states or bool(error)
        for text, jobs in self._failed.items():
            shown = ", ".join(jobs[:3]) + (f" and {len(jobs) - 3} more" if len(jobs) > 3 else "")
            self.errors.append(f"{shown}: {text}")
        self._failed = {}
        if error:
            self.errors.append(f"run: {error}")
        if cancelled or (JobState.CANCELLED.value in states and not any_failed):
            return JobState.CANCELLED.value
        return JobState.FAILED.value if any_failed else JobState.COMPLETED.value

    def flush(self) -> None:
        """Write the waiting catalog rows."""
        self.catalog.flush()

    def finish(self, status: str) -> None:
        """Report the end of the run with its ``status``."""
        self._emit(ProgressEvent("run_finished", self.run_id, self.done, self.total, status=status))

    def summary(
        self, folder: RunFolder, status: str, exports: list[Job], exported_pages: list[int], seconds: float
    ) -> RunSummary:
        """The :class:`RunSummary` of the run in ``folder`` that ends with ``status``.

        Args:
            folder: the run's folder.
            status: the final status (:meth:`status`).
            exports: the cover and export jobs (none when the run stopped before them).
            exported_pages: page numbers the exports hold.
            seconds: wall time of the call, seconds.
        """
        made = {j.kind: j.path for j in exports if j.state is JobState.COMPLETED}
        return RunSummary(
            run_id=folder.run_id,
            run_dir=folder.path,
            output_dir=folder.output_dir,
            plan_id=folder.plan_id,
            status=status,
            counts=self.counts,
            pdf=made.get(JobKind.PDF),
            cbz=made.get(JobKind.CBZ),
            epub=made.get(JobKind.EPUB),
            webtoon=made.get(JobKind.WEBTOON),
            cover=made.get(JobKind.COVER),
            pages=self._page_paths(),
            exported_pages=list(exported_pages) if set(made) - {JobKind.COVER} else [],
            seconds=seconds,
            resumed=folder.resumed,
            errors=list(self.errors),
            servers=self._panels_per_server(),
            warnings=list(self.warnings),
            rows=[r.to_dict() for r in self.rows],
        )

    def show_status(self, text: str) -> None:
        """Show the backend's state (an outage: ``waiting for ComfyUI at URL (down 23 s)``)
        beside the progress bar and as a ``backend_status`` event, when it changed."""
        if text == self._status:
            return
        self._status = text
        if self._pbar is not None:
            self._pbar.set_postfix_str(text, refresh=True)
        self._emit(ProgressEvent("backend_status", self.run_id, self.done, self.total, message=text))

    def _panels_per_server(self) -> dict[str, int]:
        """Panels rendered (not taken from the cache) per server, in order of first appearance."""
        counts: dict[str, int] = {}
        for r in self.rows:
            if r.kind == JobKind.PANEL.value and r.status == JobState.COMPLETED.value and not r.cache_hit and r.server:
                counts[r.server] = counts.get(r.server, 0) + 1
        return counts

    def _page_paths(self) -> list[Path]:
        """The pages composed or reused, in page order, as paths."""
        done = [r for r in self.rows if r.kind == JobKind.PAGE.value and r.status == JobState.COMPLETED.value]
        return [self.folder.output_dir / p for p in sorted((Path(r.path or "") for r in done), key=lambda p: p.name)]

    def close(self) -> None:
        """Close the progress bar."""
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None

    def _emit(self, event: ProgressEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)
