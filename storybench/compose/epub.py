"""Comic EPUB export: a fixed-layout EPUB 3 (EPUB 3.3 §8 "Fixed layouts"), built with ebooklib.

* ``rendition:layout`` ``pre-paginated``, ``rendition:spread`` ``none``: every spine
  item is one page, shown whole and alone; each page document's viewport is its
  image size in pixels (``<meta name="viewport" content="width=W, height=H">``);
* ``page-progression-direction="rtl"`` on the spine when the pages read right to
  left (manga), so readers turn pages the right way;
* title, language (``dc:language`` and ``xml:lang`` on ``<package>`` and every page),
  author (``dc:creator``, left out when unknown), the plan's SHA-256 as a
  ``urn:sha256:`` identifier, and a cover image (the first page, downscaled, marked
  ``cover-image``);
* accessibility (what DAISY Ace checks): every page image's ``alt`` is the page's
  lettering in reading order, in the book's language (:mod:`storybench.compose.page_text`);
  the schema.org accessibility metadata (:mod:`storybench.compose.epub_package`); a
  table of contents with an entry per chapter and, under it, per page.
"""

from __future__ import annotations

import html
import io
import os
from collections.abc import Sequence
from pathlib import Path

from ebooklib import epub
from PIL import Image

from storybench.compose.comicinfo import clean_xml_text
from storybench.compose.epub_package import Accessibility, add_accessibility, add_creator, epub_bytes
from storybench.compose.page_text import cover_alt_text, page_alt_text, page_words
from storybench.files import atomic_write_bytes
from storybench.plan.models import ComicPlan, Page

__all__ = ["export_comic_epub"]

_PAGE_CSS = "html,body{margin:0;padding:0}img{display:block;width:100%;height:100%}"


def _cover_jpeg(path: str | os.PathLike[str], height: int = 1600) -> bytes:
    with Image.open(path) as im:
        image = im.convert("RGB")
    if image.height > height:
        image = image.resize((round(image.width * height / image.height), height), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=88)
    return buf.getvalue()


def _accessibility(language: str) -> Accessibility:
    """Pages of art with lettered text; the alt texts carry the words, not the pictures."""
    return Accessibility(
        access_modes=("visual", "textOnVisual"),
        sufficient=("visual",),
        features=("alternativeText", "readingOrder", "tableOfContents"),
        summary=page_words(language).summary,
    )


def _page_list(plan: ComicPlan, count: int, cover: bool, page_numbers: Sequence[int] | None) -> list[Page | None]:
    """The plan page of each of ``count`` page images (``None``: the cover).

    Raises:
        ValueError: ``page_numbers`` names a page the plan does not have, or does not match ``count``.
    """
    by_number = {page.page_number: page for _, page in plan.pages()}
    numbers = list(page_numbers) if page_numbers is not None else sorted(by_number)[: count - int(cover)]
    unknown = [n for n in numbers if n not in by_number]
    if unknown:
        raise ValueError(f"page_numbers: plan {plan.id} has no page {unknown[0]}")
    if len(numbers) + int(cover) != count:
        raise ValueError(f"{count} page images for {len(numbers)} plan pages{' and a cover' if cover else ''}")
    return ([None] if cover else []) + [by_number[n] for n in numbers]


def _page_doc(n: int, page_path: str | os.PathLike[str], alt: str, title: str, language: str, css: epub.EpubItem):
    """The image and the XHTML document of the ``n``-th page (1-based)."""
    with Image.open(page_path) as im:
        width, height = im.size
    image_name = f"images/page-{n:03d}.png"
    image = epub.EpubImage(
        uid=f"page-img-{n:03d}", file_name=image_name, media_type="image/png", content=Path(page_path).read_bytes()
    )
    doc = epub.EpubHtml(title=title, file_name=f"page-{n:03d}.xhtml", lang=language)
    doc.add_meta(name="viewport", content=f"width={width}, height={height}")
    doc.add_item(css)
    doc.content = (
        f'<html><body><img src="{image_name}" alt="{html.escape(clean_xml_text(alt))}"'
        f' width="{width}" height="{height}"/></body></html>'
    )
    return image, doc


def _toc(plan: ComicPlan, docs: list[epub.EpubHtml], pages: list[Page | None]) -> list:
    """The table of contents: the cover, then each chapter with its pages under it."""
    toc: list = []
    first_of: dict[str, int] = {}
    for i, page in enumerate(pages):
        if page is None:
            toc.append(docs[i])
            continue
        chapter = next(ch for ch, p in plan.pages() if p is page)
        if chapter.id not in first_of:
            first_of[chapter.id] = len(toc)
            toc.append((epub.Section(clean_xml_text(chapter.title), href=docs[i].file_name), []))
        toc[first_of[chapter.id]][1].append(docs[i])
    return toc


def export_comic_epub(
    page_paths: Sequence[str | os.PathLike[str]],
    path: str | os.PathLike[str],
    *,
    plan: ComicPlan,
    rtl: bool = False,
    author: str = "",
    cover: bool = False,
    page_numbers: Sequence[int] | None = None,
) -> Path:
    """A fixed-layout EPUB 3 of the pages, one page per spine item, written atomically.

    Args:
        page_paths: page images (PNG) in reading order; the first is the cover image.
        path: the EPUB to write.
        plan: the plan (title, language, identifier, the lettering of the alt texts).
        rtl: pages read right to left (spine ``page-progression-direction="rtl"``).
        author: the book's author (``dc:creator``); ``""``: none written.
        cover: the first image is a cover page, not a page of the plan.
        page_numbers: the plan page of each (non-cover) image; default: the plan's
            first pages in order.

    Returns:
        The path written.

    Raises:
        ValueError: no pages, or the images do not match the plan's pages.
    """
    if not page_paths:
        raise ValueError("an EPUB needs at least one page")
    pages = _page_list(plan, len(page_paths), cover, page_numbers)
    words = page_words(plan.language)
    book = epub.EpubBook()
    book.set_identifier(f"urn:sha256:{plan.sha256()}")
    title = clean_xml_text(plan.title)
    book.set_title(title)
    book.set_language(plan.language)
    add_creator(book, author)
    book.add_metadata(None, "meta", "pre-paginated", {"property": "rendition:layout"})
    book.add_metadata(None, "meta", "none", {"property": "rendition:spread"})
    book.add_metadata(None, "meta", "auto", {"property": "rendition:orientation"})
    add_accessibility(book, _accessibility(plan.language))
    if rtl:
        book.set_direction("rtl")
    book.set_cover("cover.jpg", _cover_jpeg(page_paths[0]), create_page=False)
    css = epub.EpubItem(uid="page-css", file_name="page.css", media_type="text/css", content=_PAGE_CSS.encode())
    book.add_item(css)

    docs = []
    for n, (page_path, page) in enumerate(zip(page_paths, pages, strict=True), 1):
        if page is None:
            alt, label = cover_alt_text(plan), words.cover
        else:
            alt, label = page_alt_text(plan, page), f"{words.page} {page.page_number}"
        image, doc = _page_doc(n, page_path, alt, label, plan.language, css)
        book.add_item(image)
        book.add_item(doc)
        docs.append(doc)

    book.toc = _toc(plan, docs, pages)
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = docs
    return atomic_write_bytes(path, epub_bytes(book))
