"""The composer the engine calls for pages and exports, as one injectable object.

The batch engine never calls :mod:`storybench.compose` directly: it calls its
functions through a :class:`Composer`, whose default (:meth:`Composer.default`) binds
the real ones. Tests and other tools pass their own (e.g. a plain Pillow paste of the
panels into their rectangles).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from storybench import compose
from storybench.compose import cover, epub, webtoon

__all__ = ["Composer"]


@dataclass(frozen=True)
class Composer:
    """Page composition and export functions plus their version.

    Attributes:
        compose_page: ``(plan, page, panel_images, settings) -> PIL.Image.Image``;
            ``panel_images`` maps panel id to an image path.
        save_page_png: ``(image, path, *, dpi) -> Path``, atomic.
        export_pdf: ``(page_paths, path, *, dpi, title, language) -> Path``, atomic.
        export_cbz: ``(page_paths, path, *, plan, ...) -> Path``, atomic.
        version: part of every page/PDF/CBZ cache key; change it when output changes.
        page_warnings: ``(plan, page, settings) -> list`` of lettering warnings (their
            ``str`` is recorded), or ``None`` for a composer that does not letter.
        page_lettering: ``(plan, page, settings) -> list[LetterItem]``, the PDF's text
            layer; ``None``: PDFs without text.
        compose_cover: ``(plan, art, settings) -> PIL.Image.Image``; ``None``: no cover.
        cover_lettering: ``(plan, settings) -> list[LetterItem]``, the cover's text.
        export_epub: ``(page_paths, path, *, plan, rtl, author, cover, page_numbers) -> Path``;
            ``None``: no EPUB.
        export_webtoon: ``(plan, pages, folder, settings, *, width, strip_path, reuse_strip, cover, lettering)``;
            ``None``: no webtoon.

    A composer without one of the optional functions fails the export job that needs it
    with a message naming the function.
    """

    compose_page: Callable[..., Any]
    save_page_png: Callable[..., Any]
    export_pdf: Callable[..., Any]
    export_cbz: Callable[..., Any]
    version: str
    page_warnings: Callable[..., Any] | None = None
    page_lettering: Callable[..., Any] | None = None
    compose_cover: Callable[..., Any] | None = None
    cover_lettering: Callable[..., Any] | None = None
    export_epub: Callable[..., Any] | None = None
    export_webtoon: Callable[..., Any] | None = None

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
