"""The jobs of a render, built from the plan: character sheets, panels and pages.

:func:`plan_pages` gives one :class:`PageWork` per page of the plan, in reading
order: the page's composition job and, for a selected page (``only_pages``), one
job per panel with its render spec (without reference image; see
:func:`storybench.batch.keys.panel_spec`). :func:`sheet_jobs` gives the character
sheet jobs of a reference-capable backend. :class:`PageGate` says when a page's
panels are all finished, so the page can be composed, and :class:`Blocker` why a
job cannot start (``missing_*``). :func:`cached_page_keys`
finds the pages not rendered in a run whose composition is in the cache.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from storybench.batch.cache import CacheEntry
from storybench.batch.jobs import Job, JobKind, JobState
from storybench.batch.keys import RunKeys, references_of, render_key
from storybench.batch.references import character_sheet_spec
from storybench.batch.run_folder import RunFolder
from storybench.config import RenderSettings
from storybench.exceptions import ConfigError
from storybench.plan.layouts import panel_rects
from storybench.plan.loading import load_plan, parse_plan
from storybench.plan.models import Chapter, ComicPlan, Page, PanelPlan
from storybench.prompts.panel import panel_render_spec, render_size
from storybench.render.base import ImageBackend
from storybench.render.spec import RenderSpec

__all__ = [
    "MIN_RENDER_SIDE",
    "Blocker",
    "PageGate",
    "PageWork",
    "as_plan",
    "cached_page_keys",
    "key_panels_after_sheets",
    "missing_pages",
    "missing_panels",
    "missing_sheet",
    "panel_jobs",
    "panel_specs",
    "plan_pages",
    "selected_pages",
    "sheet_jobs",
]

#: Smallest render side a :class:`RenderSpec` allows, pixels.
MIN_RENDER_SIDE = 64


@dataclass
class PageWork:
    """One page of the plan and its jobs.

    Attributes:
        chapter, page: where it is in the plan.
        selected: its panels are rendered and it is composed in this run.
        panels: its panels in position order.
        specs: panel id to the panel's render spec, without reference image.
        job: the page's composition job.
        panel_jobs: its panels' jobs, in position order (empty when not selected).
    """

    chapter: Chapter
    page: Page
    selected: bool
    panels: list[PanelPlan]
    specs: dict[str, RenderSpec]
    job: Job
    panel_jobs: list[Job] = field(default_factory=list)

    def panel(self, panel_id: str) -> PanelPlan:
        """The panel with ``panel_id``.

        Raises:
            KeyError: the page has no such panel.
        """
        for p in self.panels:
            if p.id == panel_id:
                return p
        raise KeyError(panel_id)


def as_plan(plan: ComicPlan | dict | str | os.PathLike[str]) -> ComicPlan:
    """``plan`` as a :class:`ComicPlan`: a plan, a plan dict, or a plan file's path.

    Raises:
        PlanValidationError: the dict or file is not a valid plan.
        OSError: the file cannot be read.
    """
    if isinstance(plan, (str, os.PathLike)):
        return load_plan(plan)
    if isinstance(plan, dict):
        return parse_plan(plan)
    return plan


def selected_pages(plan: ComicPlan, only_pages: Sequence[int]) -> set[int]:
    """The page numbers a run renders: ``only_pages``, or every page when it is empty.

    Raises:
        ConfigError: ``only_pages`` names pages the plan does not have.
    """
    numbers = [p.page_number for _, p in plan.pages()]
    unknown = sorted(set(only_pages) - set(numbers))
    if unknown:
        raise ConfigError(
            f"settings.only_pages: plan {plan.id!r} has no page {', '.join(map(str, unknown))} "
            f"(pages 1..{len(numbers)})"
        )
    return set(only_pages or numbers)


def panel_specs(plan: ComicPlan, page: Page, settings: RenderSettings, *, rtl: bool) -> dict[str, RenderSpec]:
    """Panel id to render spec for the panels of ``page``, sized to their rectangles
    on the page (longest side ``settings.panel_max_side``, shortest side at least
    :data:`MIN_RENDER_SIDE`, both multiples of 8 pixels)."""
    s = settings
    rects = panel_rects(page.layout, s.page_width, s.page_height, margin=s.margin, gutter=s.gutter, rtl=rtl)
    specs = {}
    for panel in page.panels:
        rect = rects[panel.position - 1]
        w, h = render_size(rect.width, rect.height, s.panel_max_side)
        if min(w, h) < MIN_RENDER_SIDE:  # a thin panel: grow until its short side is allowed
            longer = math.ceil(MIN_RENDER_SIDE * max(rect.width, rect.height) / min(rect.width, rect.height) / 8) * 8
            w, h = render_size(rect.width, rect.height, longer)
        specs[panel.id] = panel_render_spec(plan, panel, w, h, params=s.render_params)
    return specs


def plan_pages(
    plan: ComicPlan, settings: RenderSettings, folder: RunFolder, *, selected: set[int], rtl: bool
) -> list[PageWork]:
    """One :class:`PageWork` per page of ``plan``, in reading order; pages whose
    number is in ``selected`` get their panel jobs."""
    work = []
    for chapter, page in plan.pages():
        panels = sorted(page.panels, key=lambda p: p.position)
        specs = panel_specs(plan, page, settings, rtl=rtl)
        n = page.page_number
        page_job = Job(JobKind.PAGE, page.id, folder.page_path(n), chapter_id=chapter.id, page_number=n)
        w = PageWork(chapter, page, n in selected, panels, specs, page_job)
        if w.selected:
            w.panel_jobs = [
                Job(JobKind.PANEL, p.id, folder.panel_path(p.id), specs[p.id], chapter_id=chapter.id, page_number=n)
                for p in panels
            ]
        work.append(w)
    return work


def sheet_jobs(
    plan: ComicPlan, settings: RenderSettings, folder: RunFolder, pages: Iterable[PageWork], backend: ImageBackend
) -> list[Job]:
    """One character sheet job, with its cache key, per character of the plan that
    appears in ``pages``' panels."""
    present = {cid for w in pages for p in w.panels for cid in p.characters}
    jobs = []
    for c in plan.characters:
        if c.id in present:
            spec = character_sheet_spec(plan, c, settings)
            job = Job(JobKind.CHARACTER_SHEET, c.id, folder.sheet_path(c.id), spec, cache_key=render_key(backend, spec))
            jobs.append(job)
    return jobs


def panel_jobs(pages: Iterable[PageWork]) -> Iterator[tuple[PageWork, Job]]:
    """Each panel job of ``pages`` with its page, in reading order."""
    for w in pages:
        for job in w.panel_jobs:
            yield w, job


@dataclass(frozen=True)
class Blocker:
    """Why a job cannot start: what it needs failed or was cancelled.

    Attributes:
        error: the job's error text.
        cancelled: the job ends ``cancelled`` (else ``failed``).
    """

    error: str
    cancelled: bool


def missing_sheet(sheet: Job) -> Blocker:
    """A panel whose character sheet ``sheet`` failed or was cancelled."""
    error = f"character sheet {sheet.artifact_id!r} {sheet.state.value}: {sheet.error}"
    return Blocker(error, sheet.state is JobState.CANCELLED)


def missing_panels(panels: Sequence[Job], *, cancelling: bool) -> Blocker | None:
    """Why a page cannot be composed, ``None`` when every panel of it completed; it is
    cancelled when the run is ``cancelling`` or every missing panel was cancelled."""
    bad = [j for j in panels if j.state is not JobState.COMPLETED]
    if not bad:
        return None
    names = ", ".join(f"{j.artifact_id} ({j.state.value})" for j in bad)
    return Blocker(f"panel(s) not available: {names}", cancelling or all(j.state is JobState.CANCELLED for j in bad))


def missing_pages(pages: Sequence[Job], *, cancelling: bool) -> Blocker | None:
    """Why an export cannot be built, ``None`` when it can: cancelled when the run is
    ``cancelling`` or a page was cancelled, failed when a page failed."""
    bad = [j for j in pages if j.state is not JobState.COMPLETED]
    if cancelling or any(j.state is JobState.CANCELLED for j in bad):
        return Blocker("cancelled", True)
    if not bad:
        return None
    return Blocker(f"not exported: page(s) {', '.join(str(j.page_number) for j in bad)} not available", False)


class PageGate:
    """Which pages have all their submitted panels finished, by page id.

    Args:
        pages: the pages being composed in this run.
        submitted: ids (:attr:`Job.id`) of the panel jobs handed to workers; the
            other panel jobs of these pages are already finished.
    """

    def __init__(self, pages: Iterable[PageWork], submitted: set[str]) -> None:
        self._pages = {w.page.id: w for w in pages}
        self._page_of = {j.artifact_id: w.page.id for w in self._pages.values() for j in w.panel_jobs}
        self._waiting = {page_id: sum(j.id in submitted for j in w.panel_jobs) for page_id, w in self._pages.items()}

    def ready(self) -> list[PageWork]:
        """The pages with no panel running, in reading order."""
        return [w for page_id, w in self._pages.items() if self._waiting[page_id] == 0]

    def panel_finished(self, panel_id: str) -> PageWork | None:
        """Note that a panel finished; its page when it was that page's last one."""
        page_id = self._page_of[panel_id]
        self._waiting[page_id] -= 1
        return self._pages[page_id] if self._waiting[page_id] == 0 else None


def cached_page_keys(
    pages: Sequence[PageWork], keys: RunKeys, cached: Callable[[str], CacheEntry | None], composer_version: str
) -> list[str] | None:
    """The cache keys of ``pages`` when every one of them, and each of its panels, is
    in the cache as the plan is now (character sheets included); else ``None``.

    Args:
        pages: pages not rendered in this run.
        keys: the run's keys.
        cached: cache lookup by key (:meth:`Producer.cached <storybench.batch.produce.Producer.cached>`).
        composer_version: the composer's version.
    """
    sheet_sha: dict[str, str] = {}
    if keys.sheets_dir is not None:
        entries = {c.id: cached(keys.sheet(c)) for c in keys.plan.characters}
        sheet_sha = {cid: e.sha256 for cid, e in entries.items() if e is not None}
    found = []
    for w in pages:
        shas = []
        for panel in w.panels:
            key = keys.panel(w.specs[panel.id], panel, sheet_sha).key
            entry = cached(key) if key else None
            if entry is None:
                return None
            shas.append(entry.sha256)
        page = keys.page(w.chapter, w.page, shas, composer_version)
        if cached(page) is None:
            return None
        found.append(page)
    return found


def key_panels_after_sheets(pages: Sequence[PageWork], sheets: Sequence[Job], keys: RunKeys) -> dict[str, Job]:
    """Once the character ``sheets`` are finished: each panel's spec and cache key with its sheet.

    Returns:
        Panel id to the failed (or cancelled) sheet of each panel that cannot be rendered;
        those panels are left unkeyed.
    """
    rendered = {j.artifact_id: j.sha256 for j in sheets if j.state is JobState.COMPLETED}
    failed = {j.artifact_id: j for j in sheets if j.state is not JobState.COMPLETED}
    blocked: dict[str, Job] = {}
    for w, job in panel_jobs(pages):
        panel = w.panel(job.artifact_id)
        sheet = next((failed[c] for c in references_of(panel, keys.backend.max_reference_images) if c in failed), None)
        if sheet is not None:
            blocked[job.artifact_id] = sheet
        else:
            job.spec, job.cache_key = keys.panel(w.specs[job.artifact_id], panel, rendered).known()
    return blocked
