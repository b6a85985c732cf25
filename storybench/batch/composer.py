"""The composer the engine calls for pages and exports, as one injectable object.

The batch engine never calls :mod:`storybench.compose` directly: it calls its
functions through a :class:`Composer`, whose default (:meth:`Composer.default`) binds
the real ones. Tests and other tools pass their own (e.g. a plain Pillow paste of the
panels into their rectangles).
"""

from __future__ import annotations

from dataclasses import dataclass

from storybench import compose
from storybench.compose import cover, epub, webtoon
from storybench.compose.protocols import (
    CbzExporter,
    CoverComposer,
    CoverLettering,
    EpubExporter,
    PageComposer,
    PageLettering,
    PageSaver,
    PageWarnings,
    PdfExporter,
    WebtoonExporter,
)

__all__ = ["Composer"]


@dataclass(frozen=True)
class Composer:
    """Page composition and export functions plus their version.

    Each function's call shape is a Protocol of :mod:`storybench.compose.protocols`.

    Attributes:
        compose_page: makes a page image.
        save_page_png: writes it, atomically.
        export_pdf: the PDF, atomically.
        export_cbz: the CBZ, atomically.
        version: part of every page/PDF/CBZ cache key; change it when output changes.
        page_warnings: lettering warnings of a page, or ``None`` for a composer that does not letter.
        page_lettering: the PDF's text layer; ``None``: PDFs without text.
        compose_cover: ``None``: no cover.
        cover_lettering: the cover's text.
        export_epub: ``None``: no EPUB.
        export_webtoon: ``None``: no webtoon.

    A composer without one of the optional functions fails the export job that needs it
    with a message naming the function.
    """

    compose_page: PageComposer
    save_page_png: PageSaver
    export_pdf: PdfExporter
    export_cbz: CbzExporter
    version: str
    page_warnings: PageWarnings | None = None
    page_lettering: PageLettering | None = None
    compose_cover: CoverComposer | None = None
    cover_lettering: CoverLettering | None = None
    export_epub: EpubExporter | None = None
    export_webtoon: WebtoonExporter | None = None

    @classmethod
    def resolve(cls, composer: Composer | None) -> Composer:
        """``composer``, or :meth:`default` when it is ``None``."""
        return composer if composer is not None else cls.default()

    @classmethod
    def default(cls) -> Composer:
        """The real composer from :mod:`storybench.compose`."""
        return cls(
            compose_page=compose.compose_page,
            save_page_png=compose.save_page_png,
            export_pdf=compose.export_pdf,
            export_cbz=compose.export_cbz,
            version=str(compose.COMPOSER_VERSION),
            page_warnings=compose.page_warnings,
            page_lettering=compose.page_lettering,
            compose_cover=cover.compose_cover,
            cover_lettering=cover.cover_lettering,
            export_epub=epub.export_comic_epub,
            export_webtoon=webtoon.export_webtoon,
        )
