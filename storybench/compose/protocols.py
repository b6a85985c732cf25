"""The composer's parts as typed call signatures: what the batch engine calls to make pages and exports.

:class:`storybench.batch.composer.Composer` holds one callable of each kind; the real
ones are in :mod:`storybench.compose` (``compose_page``, ``save_page_png``,
``export_pdf``...), and a test or another tool may pass its own with the same call
shape. Positional parameters are positional-only here, so an implementation may name
them as it likes; keyword parameters are the ones the engine passes (an
implementation may accept more, with defaults, or ``**options``).

Units: page sizes and dpi come from :class:`~storybench.config.RenderSettings`
(pixels, dots per inch); every writer writes atomically and returns the path written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from storybench.compose.lettering import LetterItem
from storybench.compose.page import PanelImage
from storybench.config import RenderSettings
from storybench.plan.models import ComicPlan, Page

__all__ = [
    "CbzExporter",
    "CoverComposer",
    "CoverLettering",
    "EpubExporter",
    "PageComposer",
    "PageLettering",
    "PageSaver",
    "PageWarnings",
    "PdfExporter",
    "WebtoonExporter",
]

StrPath = str | os.PathLike[str]


class PageComposer(Protocol):
    """``(plan, page, panel_images, settings) -> page image``: ``panel_images`` maps panel id to an image or file."""

    def __call__(
        self, plan: ComicPlan, page: Page, panel_images: Mapping[str, PanelImage], settings: RenderSettings, /
    ) -> Image.Image: ...


class PageSaver(Protocol):
    """``(image, path, *, dpi) -> path``: the page as a PNG."""

    def __call__(self, image: Image.Image, path: StrPath, /, *, dpi: int) -> Path: ...


class PdfExporter(Protocol):
    """``(page_paths, path, *, dpi, title, language, ...) -> path``: the pages (reading order) as one PDF.

    ``lettering`` is the invisible text layer, one list of items per page (``None``: no text).
    """

    def __call__(
        self,
        page_paths: Sequence[StrPath],
        path: StrPath,
        /,
        *,
        dpi: int,
        title: str,
        language: str,
        author: str,
        subject: str,
        rtl: bool,
        quality: int,
        lettering: Sequence[Sequence[LetterItem]] | None,
    ) -> Path: ...


class CbzExporter(Protocol):
    """``(page_paths, path, *, plan, rtl, cover, author) -> path``: a comic book archive with its ComicInfo."""

    def __call__(
        self, page_paths: Sequence[StrPath], path: StrPath, /, *, plan: ComicPlan, rtl: bool, cover: bool, author: str
    ) -> Path: ...


class EpubExporter(Protocol):
    """``(page_paths, path, *, plan, rtl, author, cover, page_numbers) -> path``: a fixed-layout EPUB 3.

    ``cover``: the first page path is a cover; ``page_numbers``: the plan's page number of each
    other path (``None``: 1, 2, ...), for the alt text and the nav.
    """

    def __call__(
        self,
        page_paths: Sequence[StrPath],
        path: StrPath,
        /,
        *,
        plan: ComicPlan,
        rtl: bool,
        author: str,
        cover: bool,
        page_numbers: Sequence[int] | None,
    ) -> Path: ...


class PageWarnings(Protocol):
    """``(plan, page, settings) -> warnings``: lettering warnings of a page (their ``str`` is recorded)."""

    def __call__(self, plan: ComicPlan, page: Page, settings: RenderSettings, /) -> Sequence[object]: ...


class PageLettering(Protocol):
    """``(plan, page, settings) -> items``: a page's lettering, page pixels (the PDF's text layer)."""

    def __call__(self, plan: ComicPlan, page: Page, settings: RenderSettings, /) -> Sequence[LetterItem]: ...


class CoverComposer(Protocol):
    """``(plan, art, settings) -> cover image``: ``art`` is panel images to build the cover from."""

    def __call__(self, plan: ComicPlan, art: Sequence[PanelImage], settings: RenderSettings, /) -> Image.Image: ...


class CoverLettering(Protocol):
    """``(plan, settings) -> items``: the cover's lettering (its text layer)."""

    def __call__(self, plan: ComicPlan, settings: RenderSettings, /) -> Sequence[LetterItem]: ...


class WebtoonExporter(Protocol):
    """``(plan, pages, folder, settings, *, width, strip_path, reuse_strip, cover, lettering)``: the long
    strip (in files of at most 32,767 px) and its slices.

    ``pages`` maps page number to the page image or file; ``width`` is the strip width, pixels;
    ``cover`` the cover image or file (first), ``lettering`` each page's lettering (cuts avoid it).
    """

    def __call__(
        self,
        plan: ComicPlan,
        pages: Mapping[int, StrPath | Image.Image],
        folder: StrPath,
        settings: RenderSettings,
        /,
        *,
        width: int,
        strip_path: StrPath | None,
        reuse_strip: bool,
        cover: StrPath | Image.Image | None,
        lettering: Mapping[int, Sequence[Any]] | None,
    ) -> object: ...
