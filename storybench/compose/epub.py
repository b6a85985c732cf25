"""Comic EPUB export: a fixed-layout EPUB 3 (EPUB 3.3 §8 "Fixed layouts"), built with ebooklib.

* ``rendition:layout`` ``pre-paginated``, ``rendition:spread`` ``none``: every spine
  item is one page, shown whole and alone; each page document's viewport is its
  image size in pixels (``<meta name="viewport" content="width=W, height=H">``);
* ``page-progression-direction="rtl"`` on the spine when the pages read right to
  left (manga), so readers turn pages the right way;
* title, language, author (``dc:creator``), the plan's SHA-256 as a ``urn:sha256:``
  identifier, and a cover image (the first page, downscaled, marked ``cover-image``).
"""

from __future__ import annotations

import html
import io
import os
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from storybench.compose.comicinfo import clean_xml_text
from storybench.files import atomic_write_bytes
from storybench.plan.models import ComicPlan

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


def export_comic_epub(
    page_paths: Sequence[str | os.PathLike[str]],
    path: str | os.PathLike[str],
    *,
    plan: ComicPlan,
    rtl: bool = False,
    author: str = "",
) -> Path:
    """A fixed-layout EPUB 3 of the pages, one page per spine item, written atomically.

    Args:
        page_paths: page images (PNG) in reading order; the first is the cover image.
        path: the EPUB to write.
        plan: the plan (title, language, identifier).
        rtl: pages read right to left (spine ``page-progression-direction="rtl"``).
        author: the book's author (default ``"storybench"``).

    Returns:
        The path written.

    Raises:
        ValueError: no pages.
        ImportError: ebooklib is not installed.
    """
    if not page_paths:
        raise ValueError("an EPUB needs at least one page")
    try:
        from ebooklib import epub
    except ImportError as exc:  # pragma: no cover - ebooklib is a core dependency
        raise ImportError("the EPUB export needs ebooklib: pip install ebooklib") from exc

    book = epub.EpubBook()
    book.set_identifier(f"urn:sha256:{plan.sha256()}")
    title = clean_xml_text(plan.title)
    book.set_title(title)
    book.set_language(plan.language)
    book.add_author(clean_xml_text(author) or "storybench")
    book.add_metadata(None, "meta", "pre-paginated", {"property": "rendition:layout"})
    book.add_metadata(None, "meta", "none", {"property": "rendition:spread"})
    book.add_metadata(None, "meta", "auto", {"property": "rendition:orientation"})
    if rtl:
        book.set_direction("rtl")
    book.set_cover("cover.jpg", _cover_jpeg(page_paths[0]), create_page=False)
    css = epub.EpubItem(uid="page-css", file_name="page.css", media_type="text/css", content=_PAGE_CSS.encode())
    book.add_item(css)

    pages = []
    for n, page_path in enumerate(page_paths, 1):
        with Image.open(page_path) as im:
            width, height = im.size
        image_name = f"images/page-{n:03d}.png"
        book.add_item(
            epub.EpubImage(
                uid=f"page-img-{n:03d}",
                file_name=image_name,
                media_type="image/png",
                content=Path(page_path).read_bytes(),
            )
        )
        doc = epub.EpubHtml(title=f"{title} — {n}", file_name=f"page-{n:03d}.xhtml", lang=plan.language)
        doc.add_meta(name="viewport", content=f"width={width}, height={height}")
        doc.add_item(css)
        alt = html.escape(f"{title}, page {n}")
        doc.content = (
            f'<html><body><img src="{image_name}" alt="{alt}" width="{width}" height="{height}"/></body></html>'
        )
        book.add_item(doc)
        pages.append(doc)

    book.toc = [pages[0]]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = pages
    buf = io.BytesIO()
    epub.write_epub(buf, book, {})
    return atomic_write_bytes(path, buf.getvalue())
