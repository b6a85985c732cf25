"""How many artifacts of each kind a render produced, reused, failed or cancelled.

:class:`RunCounts` holds one :class:`Tally` per group of job kinds (panels, pages,
character sheets, exports) and counts a finished job with :meth:`RunCounts.add`;
the flat names of earlier versions (``panels_rendered``, ``pages_cached``...) stay
as read-only properties and as the keys of :meth:`RunCounts.to_dict` (written to
``run.json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from storybench.batch.jobs import JobKind, JobState

__all__ = ["RunCounts", "Tally"]


@dataclass
class Tally:
    """Finished jobs of one group.

    Attributes:
        made: produced in this call (rendered, composed or built).
        cached: taken from the cache, or kept from the interrupted run being resumed.
        failed: failed.
        cancelled: cancelled.
    """

    made: int = 0
    cached: int = 0
    failed: int = 0
    cancelled: int = 0

    def add(self, state: JobState, cache_hit: bool) -> None:
        """Count one finished job in ``state``."""
        if state is JobState.COMPLETED and cache_hit:
            self.cached += 1
        elif state is JobState.COMPLETED:
            self.made += 1
        elif state is JobState.CANCELLED:
            self.cancelled += 1
        else:
            self.failed += 1


@dataclass
class RunCounts:
    """Per-group counts of one call of the batch engine.

    Attributes:
        panels: panel jobs.
        pages: page compositions (the cover included).
        sheets: character reference sheets.
        exports: the PDF, CBZ, EPUB and webtoon.
    """

    panels: Tally = field(default_factory=Tally)
    pages: Tally = field(default_factory=Tally)
    sheets: Tally = field(default_factory=Tally)
    exports: Tally = field(default_factory=Tally)

    def tally(self, kind: JobKind) -> Tally:
        """The tally a job of ``kind`` counts in.

        Raises:
            ValueError: no tally counts ``kind`` (a new kind needs its place here).
        """
        match kind:
            case JobKind.PANEL:
                return self.panels
            case JobKind.PAGE | JobKind.COVER:
                return self.pages
            case JobKind.CHARACTER_SHEET:
                return self.sheets
            case JobKind.PDF | JobKind.CBZ | JobKind.EPUB | JobKind.WEBTOON:
                return self.exports
        raise ValueError(f"RunCounts: no tally for job kind {kind.value!r}")

    def add(self, kind: JobKind, state: JobState, cache_hit: bool) -> None:
        """Count one finished job."""
        self.tally(kind).add(state, cache_hit)

    def to_dict(self) -> dict[str, int]:
        """The counts under their flat names (``panels_rendered``...)."""
        return {
            "panels_rendered": self.panels.made,
            "panels_cached": self.panels.cached,
            "panels_failed": self.panels.failed,
            "panels_cancelled": self.panels.cancelled,
            "pages_composed": self.pages.made,
            "pages_cached": self.pages.cached,
            "pages_failed": self.pages.failed,
            "pages_cancelled": self.pages.cancelled,
            "sheets_rendered": self.sheets.made,
            "sheets_cached": self.sheets.cached,
            "sheets_failed": self.sheets.failed,
            "sheets_cancelled": self.sheets.cancelled,
            "exports_built": self.exports.made,
            "exports_cached": self.exports.cached,
            "exports_failed": self.exports.failed,
            "exports_cancelled": self.exports.cancelled,
        }

    @property
    def failed(self) -> int:
        """Failed artifacts of every kind."""
        return self.panels.failed + self.pages.failed + self.sheets.failed + self.exports.failed

    # the flat names -----------------------------------------------------------
    @property
    def panels_rendered(self) -> int:
        """Panels rendered by the backend."""
        return self.panels.made

    @property
    def panels_cached(self) -> int:
        """Panels reused."""
        return self.panels.cached

    @property
    def panels_failed(self) -> int:
        """Panels failed."""
        return self.panels.failed

    @property
    def panels_cancelled(self) -> int:
        """Panels cancelled."""
        return self.panels.cancelled

    @property
    def pages_composed(self) -> int:
        """Pages composed."""
        return self.pages.made

    @property
    def pages_cached(self) -> int:
        """Pages reused."""
        return self.pages.cached

    @property
    def pages_failed(self) -> int:
        """Pages failed."""
        return self.pages.failed

    @property
    def pages_cancelled(self) -> int:
        """Pages cancelled."""
        return self.pages.cancelled

    @property
    def sheets_rendered(self) -> int:
        """Character sheets rendered by the backend."""
        return self.sheets.made

    @property
    def sheets_cached(self) -> int:
        """Character sheets reused."""
        return self.sheets.cached

    @property
    def sheets_failed(self) -> int:
        """Character sheets failed."""
        return self.sheets.failed

    @property
    def sheets_cancelled(self) -> int:
        """Character sheets cancelled."""
        return self.sheets.cancelled

    @property
    def exports_built(self) -> int:
        """Exports (PDF, CBZ) built."""
        return self.exports.made

    @property
    def exports_cached(self) -> int:
        """Exports reused."""
        return self.exports.cached

    @property
    def exports_failed(self) -> int:
        """Exports failed."""
        return self.exports.failed

    @property
    def exports_cancelled(self) -> int:
        """Exports cancelled."""
        return self.exports.cancelled
