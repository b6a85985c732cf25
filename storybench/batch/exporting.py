"""The export jobs of a render: the optional cover, then the exports of ``settings.exports``.

On-disk contract (in the run folder): ``pages/cover.png`` (``settings.cover``),
``<plan_id>.pdf``, ``<plan_id>.cbz``, ``<plan_id>.epub``, and ``<plan_id>-webtoon.png``
(with ``<plan_id>-webtoon-2.png``... when the strip is taller than 32,767 px) with its
slices ``webtoon/001.png``... and ``webtoon/manifest.json``. Every one is a cache
object like a page (of the webtoon, the strip's first file): the
cover keyed by the composer version, the plan's title, style and names, the page
settings and its art's SHA-256; an export by :func:`~storybench.batch.keys.export_key`
with its options (reading direction, cover, author, PDF quality, webtoon width). The
webtoon's slices are cut again from the strip when it comes from the cache (its
other files made again when they are not in the run folder).

The cover's art: the characters' sheets of the run (reference-capable backends), else
the first panel's image, else that panel cut from the first exported page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from storybench.batch.cache import ArtifactCache, CacheEntry
from storybench.batch.composer import Composer
from storybench.batch.jobs import Job, JobKind, JobState
from storybench.batch.keys import RunKeys, hash_json
from storybench.batch.produce import Maker, Producer, error_text
from storybench.batch.run_folder import RunFolder
from storybench.batch.work import Blocker, PageWork, missing_pages
from storybench.config import RenderSettings
from storybench.exceptions import ConfigError
from storybench.files import atomic_write_bytes, sha256_file
from storybench.plan.layouts import panel_rects
from storybench.plan.models import ComicPlan

__all__ = ["EXPORTS_VERSION", "Exporter", "export_jobs", "missing_cover", "produce_exports"]

#: Part of every export's and cover's cache key: bump when they change for the same pages.
EXPORTS_VERSION = "exports-3"

_SUFFIX = {JobKind.PDF: ".pdf", JobKind.CBZ: ".cbz", JobKind.EPUB: ".epub", JobKind.WEBTOON: "-webtoon.png"}


def export_jobs(plan_id: str, settings: RenderSettings, folder: RunFolder) -> list[Job]:
    """The cover job (when ``settings.cover`` and anything is exported), then one job per export."""
    jobs = [Job(JobKind(kind), plan_id, folder.export_path(_SUFFIX[JobKind(kind)])) for kind in settings.exports]
    if jobs and settings.cover:
        jobs.insert(0, Job(JobKind.COVER, "cover", folder.path / "pages" / "cover.png"))
    return jobs


def missing_cover(cover: Job | None) -> Blocker | None:
    """Why an export cannot be built for want of its cover, ``None`` when it can."""
    if cover is None or cover.state is JobState.COMPLETED:
        return None
    return Blocker(f"not exported: the cover {cover.state.value}: {cover.error}", cover.state is JobState.CANCELLED)


class Exporter:
    """Keys and makers of the cover and export jobs of one render.

    Args:
        plan: the plan.
        settings: render settings (page geometry, exports' options).
        rtl: the pages read right to left.
        cache: the output folder's cache.
        folder: the run's folder.
        composer: composition and export functions.
    """

    def __init__(
        self,
        plan: ComicPlan,
        settings: RenderSettings,
        rtl: bool,
        cache: ArtifactCache,
        folder: RunFolder,
        composer: Composer,
    ) -> None:
        self.plan = plan
        self.settings = settings
        self.rtl = rtl
        self.cache = cache
        self.folder = folder
        self.composer = composer
        #: the exports' author: the plan's, else the ``author`` setting ("" for none)
        self.author = plan.author or settings.author

    # -- the cover ---------------------------------------------------------------------
    def _cover_art(self, first: PageWork) -> tuple[list[Any], list[str]]:
        """The cover's art (images or files) and their SHA-256."""
        sheets = [self.folder.sheet_path(c.id) for c in self.plan.characters]
        files = [p for p in sheets if p.is_file()]
        if not files and first.panel_jobs and first.panel_jobs[0].path.is_file():
            files = [first.panel_jobs[0].path]
        if files:
            return [str(p) for p in files], [sha256_file(p) for p in files]
        s = self.settings
        rect = panel_rects(
            first.page.layout, s.page_width, s.page_height, margin=s.margin, gutter=s.gutter, rtl=self.rtl
        )[0]
        with Image.open(first.job.path) as im:
            crop = im.crop((rect.x0, rect.y0, rect.x1, rect.y1))
        return [crop], [first.job.sha256]

    def cover(self, pages: Sequence[PageWork]) -> tuple[str, Maker]:
        """The cover's cache key and maker, from the first of the exported ``pages``.

        Raises:
            ConfigError: the composer cannot compose covers.
            OSError: the first page cannot be read.
        """
        compose_cover = self.composer.compose_cover
        if compose_cover is None:
            raise ConfigError("the composer has no compose_cover: no cover page")
        art, art_sha = self._cover_art(pages[0])
        s = self.settings
        key = hash_json(
            {
                "composer": self.composer.version,
                "exports": EXPORTS_VERSION,
                "kind": "cover",
                "plan": {"title": self.plan.title, "style": self.plan.style},
                "names": [c.name for c in self.plan.characters],
                "settings": [s.page_width, s.page_height, s.dpi, s.margin, s.gutter, s.border],
                "art": art_sha,
            }
        )

        def make(job: Job) -> CacheEntry:
            job.attempts = 1
            target = self.cache.object_path(job.cache_key, ".png")
            self.composer.save_page_png(compose_cover(self.plan, art, s), target, dpi=s.dpi)
            return self.cache.commit(job.cache_key, target, kind="cover", width=s.page_width, height=s.page_height)

        return key, make

    # -- the exports --------------------------------------------------------------------
    def options(self, kind: JobKind, cover: Job | None) -> dict[str, Any]:
        """What shapes the ``kind`` export besides its pages (part of its cache key)."""
        options: dict[str, Any] = {
            "exports": EXPORTS_VERSION,
            "rtl": self.rtl,
            "cover": cover is not None,
            "author": self.author,
        }
        if kind is JobKind.PDF:
            options["quality"] = self.settings.pdf_quality
        if kind is JobKind.WEBTOON:
            options["width"] = self.settings.webtoon_width
        return options

    def maker(self, pages: Sequence[PageWork], cover: Job | None) -> Maker:
        """Maker of the export of ``pages`` (after ``cover``) of the job's kind."""

        def make(job: Job) -> CacheEntry:
            job.attempts = 1
            target = self.cache.object_path(job.cache_key, ".png" if job.kind is JobKind.WEBTOON else "." + job.kind)
            if job.kind is JobKind.WEBTOON:  # written into the run (strip files, slices); its first file is cached
                job.warnings.extend(self.webtoon(pages, job.path, cover=cover, reuse_strip=False))
                atomic_write_bytes(target, job.path.read_bytes())
            else:
                self._write(job.kind, target, pages, cover)
            return self.cache.commit(job.cache_key, target, kind=job.kind.value)

        return make

    def _write(self, kind: JobKind, target: Path, pages: Sequence[PageWork], cover: Job | None) -> None:
        c, plan = self.composer, self.plan
        paths = ([cover.path] if cover is not None else []) + [w.job.path for w in pages]
        if kind is JobKind.PDF:
            self._write_pdf(paths, target, pages, cover)
        elif kind is JobKind.CBZ:
            c.export_cbz(paths, target, plan=plan, rtl=self.rtl, cover=cover is not None, author=self.author)
        elif kind is JobKind.EPUB:
            if c.export_epub is None:
                raise ConfigError("the composer has no export_epub: no EPUB")
            numbers = [w.page.page_number for w in pages]
            c.export_epub(
                paths,
                target,
                plan=plan,
                rtl=self.rtl,
                author=self.author,
                cover=cover is not None,
                page_numbers=numbers,
            )
        else:
            self.webtoon(pages, target, reuse_strip=False)

    def _write_pdf(self, paths: list[Path], target: Path, pages: Sequence[PageWork], cover: Job | None) -> None:
        c, s, plan = self.composer, self.settings, self.plan
        subject = f"{plan.title} — " + ", ".join(ch.title for ch in plan.chapters)
        c.export_pdf(
            paths,
            target,
            dpi=s.dpi,
            title=plan.title,
            language=plan.language,
            author=self.author,
            subject=subject,
            rtl=self.rtl,
            quality=s.pdf_quality,
            lettering=self._pdf_lettering(pages, cover),
        )

    def _pdf_lettering(self, pages: Sequence[PageWork], cover: Job | None) -> list[Any] | None:
        """The text layer of each PDF page (the cover's first), ``None`` when the composer has none."""
        c, s, plan = self.composer, self.settings, self.plan
        if c.page_lettering is None:
            return None
        lettering = [c.page_lettering(plan, w.page, s) for w in pages]
        if cover is not None:
            lettering.insert(0, c.cover_lettering(plan, s) if c.cover_lettering is not None else [])
        return lettering

    def webtoon(
        self, pages: Sequence[PageWork], strip: Path, *, cover: Job | None = None, reuse_strip: bool = True
    ) -> list[str]:
        """Write the webtoon: the strip's files from ``strip`` on (unless ``reuse_strip`` and
        they are there), the slices and the manifest into ``webtoon/``; the cover first.

        Returns:
            Its notes (the strip split into files), each starting ``"webtoon: "``.

        Raises:
            ConfigError: the composer cannot make webtoons.
        """
        c, s, plan = self.composer, self.settings, self.plan
        if c.export_webtoon is None:
            raise ConfigError("the composer has no export_webtoon: no webtoon")
        numbered = {w.page.page_number: w.job.path for w in pages}
        lettering: dict[int, Any] = {}
        if c.page_lettering is not None:
            lettering = {w.page.page_number: c.page_lettering(plan, w.page, s) for w in pages}
        if cover is not None and c.cover_lettering is not None:
            lettering[0] = c.cover_lettering(plan, s)
        made = c.export_webtoon(
            plan,
            numbered,
            self.folder.path / "webtoon",
            s,
            width=s.webtoon_width,
            strip_path=strip,
            reuse_strip=reuse_strip,
            cover=cover.path if cover is not None else None,
            lettering=lettering,
        )
        return [f"webtoon: {note}" for note in getattr(made, "notes", ())]


def produce_exports(
    jobs: Sequence[Job],
    done: list[PageWork],
    exporter: Exporter,
    producer: Producer,
    keys: RunKeys,
    *,
    cancelling: Callable[[], bool],
    record: Callable[[Job], None],
    skip: Callable[[Job, Blocker], None],
) -> None:
    """Finish the cover and export ``jobs`` (from :func:`export_jobs`) of the pages ``done``, in order.

    Args:
        jobs: the cover job (if any) first, then the exports.
        done: the pages composed or reused, in reading order.
        exporter: keys and makers of the cover and exports.
        producer: reuses from the cache or produces each job.
        keys: the run's cache keys.
        cancelling: whether the run is being cancelled (asked before each job).
        record: called with each finished job.
        skip: finishes a job that cannot start (a page, or the cover, is missing).
    """
    pages = [w.job for w in done]
    cover: Job | None = None
    for job in jobs:
        blocker = missing_pages(pages, cancelling=cancelling()) or missing_cover(cover)
        if blocker is not None:
            skip(job, blocker)
        elif job.kind is JobKind.COVER:
            record(_produce_cover(job, exporter, producer, done))
        else:
            record(_produce_export(job, exporter, producer, keys, done, cover))
        if job.kind is JobKind.COVER:
            cover = job


def _produce_cover(job: Job, exporter: Exporter, producer: Producer, pages: list[PageWork]) -> Job:
    """The cover job, finished (failed when its key cannot be worked out)."""
    try:
        job.cache_key, make = exporter.cover(pages)
    except Exception as exc:
        job.finish(JobState.FAILED, error_text(exc))
        return job
    return producer.produce(job, make)


def _produce_export(
    job: Job, exporter: Exporter, producer: Producer, keys: RunKeys, done: list[PageWork], cover: Job | None
) -> Job:
    """An export job, finished; a webtoon strip from the cache has its slices cut again."""
    shas = ([cover.sha256] if cover is not None else []) + [w.job.sha256 for w in done]
    job.cache_key = keys.export(job.kind.value, shas, exporter.composer.version, exporter.options(job.kind, cover))
    producer.produce(job, exporter.maker(done, cover))
    if job.kind is JobKind.WEBTOON and job.state is JobState.COMPLETED and job.cache_hit:
        try:  # the strip came from the cache: cut its slices again (and write its other files)
            job.warnings.extend(exporter.webtoon(done, job.path, cover=cover))
        except Exception as exc:
            job.finish(JobState.FAILED, error_text(exc))
    return job
