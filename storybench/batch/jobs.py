"""Jobs of a batch render: their kinds, states and the retry loop.

A render of a plan is a list of jobs: one per character sheet (reference-capable
backends only), one per panel, one per page composition, an optional cover, then the exports
(PDF, CBZ, EPUB, webtoon: ``RenderSettings.exports``).
Each job moves ``pending → processing → completed | failed | cancelled``. Only
errors marked transient (``exc.transient`` is true, e.g.
:class:`~storybench.exceptions.TransientBackendError`) are retried, with an
exponential backoff; anything else fails the job at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from storybench.exceptions import Cancelled, RetryExhausted, TransientBackendError
from storybench.render.spec import RenderSpec

__all__ = [
    "MAX_RETRY_AFTER",
    "Job",
    "JobKind",
    "JobState",
    "call_with_retries",
    "is_transient",
    "retry_after",
    "utcnow",
]

T = TypeVar("T")


class JobState(StrEnum):
    """Lifecycle state of a job."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """The job will not change any more in this run."""
        return self in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)


class JobKind(StrEnum):
    """What a job produces; also the ``kind`` column of the catalog."""

    CHARACTER_SHEET = "character_sheet"
    PANEL = "panel"
    PAGE = "page"
    PDF = "pdf"
    CBZ = "cbz"
    EPUB = "epub"
    WEBTOON = "webtoon"
    COVER = "cover"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass
class Job:
    """One unit of work of a run and everything the catalog records about it.

    Attributes:
        kind: what the job produces.
        artifact_id: the panel id, page id, character id, or the plan id (PDF/CBZ).
        path: where the artifact goes in the run folder (absolute).
        spec: the render spec (character sheets and panels only).
        chapter_id, page_number: where the artifact sits in the plan (``None`` when not applicable).
        cache_key: content address of the artifact (hex SHA-256), once known.
        state: lifecycle state.
        attempts: calls made to the backend/composer in this run (0 for a cache hit).
        error: text of the last error, ``""`` when none.
        cache_hit: the artifact came from the cache instead of being produced.
        sha256, bytes: content hash and size of the finished file.
        width, height: size of the finished image in pixels (``None`` for PDF/CBZ).
        metrics: backend measurements (``RenderResult.metrics``).
        started_at, finished_at: UTC times; ``submitted`` is a monotonic clock reading
            (seconds) taken when the job was queued.
        wait_seconds: time waiting for a worker thread (the engine's own wait; a server's
            queue time is a backend metric, ``metrics["queue_seconds"]``).
        execution_seconds: time spent in the backend's ``render`` or the composer.
        warnings: lettering warnings of a page (``"page 3 panel 2: 2 of 5 balloons do not fit ..."``).
        candidate: a panel candidate's index (0..N-1), or the index of the candidate a panel
            was picked from; ``None`` outside candidate runs.
        consistency: the panel's consistency score (0..1, its worst-scored character), or ``None``.
    """

    kind: JobKind
    artifact_id: str
    path: Path
    spec: RenderSpec | None = None
    chapter_id: str | None = None
    page_number: int | None = None
    cache_key: str = ""
    state: JobState = JobState.PENDING
    attempts: int = 0
    error: str = ""
    cache_hit: bool = False
    sha256: str = ""
    bytes: int | None = None
    width: int | None = None
    height: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    submitted: float | None = None
    wait_seconds: float | None = None
    execution_seconds: float | None = None
    warnings: list[str] = field(default_factory=list)
    candidate: int | None = None
    consistency: float | None = None

    @property
    def id(self) -> str:
        """``"<kind>:<artifact_id>"``, unique within a run."""
        return f"{self.kind.value}:{self.artifact_id}"

    @property
    def seconds(self) -> float | None:
        """Wall time from start to finish, seconds (``None`` until finished)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def start(self) -> None:
        """Move to ``processing`` and stamp the start time."""
        self.state = JobState.PROCESSING
        self.started_at = utcnow()
        if self.submitted is not None and self.wait_seconds is None:
            self.wait_seconds = max(0.0, time.monotonic() - self.submitted)

    def finish(self, state: JobState, error: str = "") -> None:
        """Move to a final state and stamp the finish time."""
        self.state = state
        self.error = error
        if self.started_at is None:
            self.started_at = utcnow()
        self.finished_at = utcnow()


def is_transient(exc: BaseException) -> bool:
    """The error is worth retrying: it carries a truthy ``transient`` attribute."""
    return bool(getattr(exc, "transient", False))


#: Longest wait a server's ``Retry-After`` can impose between two attempts, seconds.
MAX_RETRY_AFTER = 300.0


def retry_after(exc: BaseException) -> float:
    """Seconds the server asked to wait before retrying (``Retry-After``, carried by a
    :class:`~storybench.exceptions.TransientBackendError`), at most :data:`MAX_RETRY_AFTER`; else 0."""
    asked = exc.retry_after if isinstance(exc, TransientBackendError) else None
    return min(float(asked), MAX_RETRY_AFTER) if asked else 0.0


def call_with_retries(
    fn: Callable[[], T],
    *,
    retries: int,
    backoff_seconds: float,
    cancel_event: threading.Event | None = None,
    on_attempt: Callable[[int], None] | None = None,
) -> T:
    """Call ``fn`` until it succeeds, retrying transient errors with exponential backoff.

    Attempt ``n`` (1-based) that fails with a transient error waits
    ``backoff_seconds * 2 ** (n - 1)`` seconds before the next one, or longer when the
    server asked for it (:func:`retry_after`); the wait ends early when ``cancel_event`` is set.

    Args:
        fn: the work; called with no arguments.
        retries: attempts in total, the first one included (``>= 1``).
        backoff_seconds: delay before the second attempt, seconds.
        cancel_event: when set, no further attempt is made.
        on_attempt: called with the attempt number before each attempt.

    Returns:
        What ``fn`` returned.

    Raises:
        Cancelled: ``cancel_event`` was set before an attempt.
        RetryExhausted: every attempt failed with a transient error (keeps the last one).
        Exception: the first non-transient error, unchanged.
    """
    attempts = max(1, retries)
    for attempt in range(1, attempts + 1):
        if cancel_event is not None and cancel_event.is_set():
            raise Cancelled("cancelled before the job could run")
        if on_attempt is not None:
            on_attempt(attempt)
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if attempt == attempts:
                raise RetryExhausted(exc, attempts) from exc
            _back_off(max(backoff_seconds * 2 ** (attempt - 1), retry_after(exc)), cancel_event, exc)
    raise AssertionError("unreachable")  # pragma: no cover


def _back_off(delay: float, cancel_event: threading.Event | None, exc: Exception) -> None:
    """Wait ``delay`` seconds before a retry of the attempt that failed with ``exc``.

    Raises:
        Cancelled: ``cancel_event`` was set during the wait.
    """
    if cancel_event is None:
        if delay > 0:
            time.sleep(delay)
    elif cancel_event.wait(delay):
        raise Cancelled("cancelled while waiting to retry") from exc
