"""CBZ export: the pages as ``001.png``, ``002.png``... in a zip, with ComicInfo.xml and
the ComicBookInfo archive comment (see :mod:`storybench.compose.comicinfo`).

Images are stored (PNG is already compressed), ``ComicInfo.xml`` deflated; the archive
is written atomically. The zip comment is limited to 65,535 bytes (APPNOTE 4.4.12): a
longer ComicBookInfo document loses its ``comments`` and ``tags`` first.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

from PIL import Image

from storybench.compose.comicinfo import PageInfo, PageType, comic_book_info, comic_info_xml
from storybench.files import atomic_write_bytes
from storybench.plan.models import ComicPlan

__all__ = ["ZIP_COMMENT_MAX", "export_cbz"]

#: Largest zip archive comment, bytes.
ZIP_COMMENT_MAX = 65535


def _comment(plan: ComicPlan, author: str, when: datetime) -> bytes:
    comment = comic_book_info(plan, author=author, modified=when)
    if len(comment) <= ZIP_COMMENT_MAX:
        return comment
    doc = json.loads(comment)
    doc["ComicBookInfo/1.0"].pop("comments", None)
    doc["ComicBookInfo/1.0"]["tags"] = []
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")[:ZIP_COMMENT_MAX]


def export_cbz(
    page_paths: Sequence[str | os.PathLike[str]],
    path: str | os.PathLike[str],
    *,
    plan: ComicPlan,
    rtl: bool | None = None,
    cover: bool = False,
    author: str = "",
) -> Path:
    """A CBZ of the pages plus ``ComicInfo.xml`` and the ComicBookInfo comment, atomically.

    Args:
        page_paths: page images in reading order.
        path: the CBZ to write.
        plan: the plan (metadata).
        rtl: the direction the pages were rendered in (``None``: the style's); sets ``Manga``.
        cover: the first image is a cover page (``Type="FrontCover"``); otherwise every
            page is a story page.
        author: credited as the writer.

    Returns:
        The path written.

    Raises:
        ValueError: no pages.
        OSError: a page cannot be read.
    """
    if not page_paths:
        raise ValueError("a CBZ needs at least one page")
    when = datetime.now(UTC)
    infos: list[PageInfo] = []
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, p in enumerate(page_paths):
            with Image.open(p) as im:
                size = im.size
            kind: PageType = "FrontCover" if cover and i == 0 else "Story"
            infos.append(PageInfo(size[0], size[1], os.path.getsize(p), kind))
            zf.write(p, f"{i + 1:03d}{Path(p).suffix.lower()}", compress_type=zipfile.ZIP_STORED)
        xml = comic_info_xml(plan, infos, rtl=rtl, author=author, modified=when)
        zf.writestr("ComicInfo.xml", xml, compress_type=zipfile.ZIP_DEFLATED)
        zf.comment = _comment(plan, author, when)
    return atomic_write_bytes(path, buf.getvalue())
