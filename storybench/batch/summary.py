"""What a finished (or stopped) render returns: :class:`RunSummary`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storybench.batch.catalog import CATALOG_COLUMNS
from storybench.batch.counts import RunCounts
from storybench.redact import redact

__all__ = ["RunCounts", "RunSummary"]


@dataclass
class RunSummary:
    """The outcome of :func:`storybench.batch.render_plan`.

    Attributes:
        run_id: the run's id (``20261121-061530-ab12``).
        run_dir: ``<output_dir>/<plan_id>/<run_id>``.
        output_dir: the output folder holding the catalog and the cache.
        plan_id: the plan's id.
        status: ``completed``, ``failed`` or ``cancelled``.
        counts: per-kind counts for this call.
        pdf, cbz, epub: the exported files, ``None`` when not exported.
        webtoon: the long webtoon strip (its slices are in ``run_dir/webtoon/``), or ``None``.
        cover: the cover page, or ``None``.
        pages: the page PNGs of the run, in page order.
        exported_pages: page numbers inside the exports (after the cover, if any).
        seconds: wall time of the call, seconds.
        resumed: this call resumed an interrupted run.
        errors: one line per distinct failure: ``"<job ids>: <error>"`` (a failure shared by
            many jobs, such as an outage, once with the first job ids), or a run-wide line
            (``"preflight failed: ..."``, ``"run: ..."``).
        servers: panels rendered per server (URL → count) by multi-server backends.
        warnings: lettering warnings (``"page 3 panel 2: 2 of 5 balloons do not fit ..."``):
            text left off a page because it cannot fit at the minimum readable size.
        low_consistency: ``(panel id, best consistency)`` of the panels whose best candidate
            scored under ``settings.consistency_threshold`` (candidate runs only).
        rows: the catalog rows of this call's jobs (see :meth:`to_frame`).
    """

    run_id: str
    run_dir: Path
    output_dir: Path
    plan_id: str
    status: str
    counts: RunCounts = field(default_factory=RunCounts)
    pdf: Path | None = None
    cbz: Path | None = None
    epub: Path | None = None
    webtoon: Path | None = None
    cover: Path | None = None
    pages: list[Path] = field(default_factory=list)
    exported_pages: list[int] = field(default_factory=list)
    seconds: float = 0.0
    resumed: bool = False
    errors: list[str] = field(default_factory=list)
    servers: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    low_consistency: list[tuple[str, float]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        """The run completed with nothing failed or cancelled."""
        return self.status == "completed"

    @property
    def exit_code(self) -> int:
        """``0`` when :attr:`ok`, ``1`` otherwise (for the CLI and notebooks)."""
        return 0 if self.ok else 1

    def to_frame(self):
        """This call's jobs as a :class:`pandas.DataFrame` with the catalog columns."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(CATALOG_COLUMNS))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (paths as strings, no rows)."""
        return {
            "run_id": self.run_id,
            "run_dir": str(self.run_dir),
            "plan_id": self.plan_id,
            "status": self.status,
            "counts": self.counts.to_dict(),
            "pdf": str(self.pdf) if self.pdf else None,
            "cbz": str(self.cbz) if self.cbz else None,
            "epub": str(self.epub) if self.epub else None,
            "webtoon": str(self.webtoon) if self.webtoon else None,
            "cover": str(self.cover) if self.cover else None,
            "pages": [str(p) for p in self.pages],
            "exported_pages": list(self.exported_pages),
            "seconds": round(self.seconds, 3),
            "resumed": self.resumed,
            "errors": list(self.errors),
            "servers": dict(self.servers),
            "warnings": list(self.warnings),
            "low_consistency": [list(x) for x in self.low_consistency],
        }

    def manifest_fields(self) -> dict[str, Any]:
        """What ``run.json`` records of the finished run (paths relative to the run folder)."""
        return {
            "seconds": round(self.seconds, 3),
            "counts": self.counts.to_dict(),
            "jobs": len(self.rows),
            "pages": [p.relative_to(self.run_dir).as_posix() for p in self.pages],
            "exported_pages": list(self.exported_pages),
            "pdf": self.pdf.name if self.pdf else None,
            "cbz": self.cbz.name if self.cbz else None,
            "epub": self.epub.name if self.epub else None,
            "webtoon": self.webtoon.relative_to(self.run_dir).as_posix() if self.webtoon else None,
            "cover": self.cover.relative_to(self.run_dir).as_posix() if self.cover else None,
            "errors": list(self.errors),
            "warnings": list(self.warnings),
        }

    def __str__(self) -> str:
        lines = [
            f"run {self.run_id} of plan {self.plan_id!r}: {self.status}"
            f"{' (resumed)' if self.resumed else ''} in {self.seconds:.1f} s",
            *self._count_lines(),
            f"pdf: {self.pdf or 'not exported'}",
            f"cbz: {self.cbz or 'not exported'}",
            *(f"{name}: {path}" for name, path in self._extra_exports()),
            f"folder: {self.run_dir}",
        ]
        lines.extend(f"  failed {error}" for error in self.errors)
        lines.extend(f"  lettering warning: {warning}" for warning in self.warnings)
        lines.extend(f"  low consistency: panel {pid} (best {score:.2f})" for pid, score in self.low_consistency)
        return redact("\n".join(lines))  # a server URL's password, a token in an error

    def _extra_exports(self) -> list[tuple[str, Path]]:
        """The optional exports this run made, as ``(name, path)``: EPUB, webtoon strip, cover page."""
        made = {"epub": self.epub, "webtoon": self.webtoon, "cover": self.cover}
        return [(name, path) for name, path in made.items() if path is not None]

    def _count_lines(self) -> list[str]:
        """The summary's count lines: sheets (when any), panels, pages and servers (when known)."""
        c = self.counts
        lines = []
        if c.sheets_rendered or c.sheets_cached or c.sheets_failed:
            lines.append(
                f"character sheets: {c.sheets_rendered} rendered, {c.sheets_cached} cache hits, "
                f"{c.sheets_failed} failed"
            )
        lines.append(
            f"panels: {c.panels_rendered} rendered, {c.panels_cached} cache hits, {c.panels_failed} failed"
            + (f", {c.panels_cancelled} cancelled" if c.panels_cancelled else "")
        )
        lines.append(
            f"pages: {c.pages_composed} composed, {c.pages_cached} reused, {c.pages_failed} failed"
            + (f", {c.pages_cancelled} cancelled" if c.pages_cancelled else "")
        )
        if self.servers:
            lines.append("servers: " + ", ".join(f"{url} {n} panel(s)" for url, n in self.servers.items()))
        return lines
