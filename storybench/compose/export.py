"""Export: page PNGs, one PDF of all pages, one CBZ with ComicInfo.xml.

Every file is written atomically (``storybench.io``). ComicInfo.xml follows the
ComicInfo v2.0 schema of the Anansi Project (``Title``, ``Series``, ``Summary``,
``PageCount``, ``LanguageISO``, ``Manga``, ``Pages/Page``).
"""

from __future__ import annotations

import io
import os
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from storybench.io import atomic_write_bytes
from storybench.plan.models import ComicPlan
from storybench.plan.styles import get_style

__all__ = ["comic_info_xml", "export_cbz", "export_pdf", "save_page_png"]


def save_page_png(image: Image.Image, path: str | os.PathLike[str], *, dpi: int = 300) -> Path:
    """Write ``image`` as a PNG with its resolution set to ``dpi``, atomically.

    Returns:
        The path written.
    """
    buf = io.BytesIO()
    image.save(buf, "PNG", dpi=(dpi, dpi), compress_level=6)
    return atomic_write_bytes(path, buf.getvalue())


def export_pdf(
    page_paths: Sequence[str | os.PathLike[str]],
    path: str | os.PathLike[str],
    *,
    dpi: int = 300,
    title: str = "",
    language: str = "en",
) -> Path:
    """One PDF page per image, in order, at ``dpi`` (page size = image size / dpi inches).

    Raises:
        ValueError: no pages.
    """
    if not page_paths:
        raise ValueError("a PDF needs at least one page")
    images = []
    for p in page_paths:
        with Image.open(p) as im:
            images.append(im.convert("RGB"))
    buf = io.BytesIO()
    images[0].save(
        buf,
        "PDF",
        save_all=True,
        append_images=images[1:],
        resolution=float(dpi),
        title=title,
        producer="storybench",
        creator="storybench",
        subject=f"language: {language}",
    )
    return atomic_write_bytes(path, buf.getvalue())


def comic_info_xml(plan: ComicPlan, page_count: int, pages: Sequence[tuple[int, int]] = ()) -> bytes:
    """ComicInfo.xml (v2.0) for ``plan`` with ``page_count`` pages; ``pages`` are ``(width, height)``."""
    root = ET.Element(
        "ComicInfo",
        {
            "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
            "xmlns:xsd": "http://www.w3.org/2001/XMLSchema",
        },
    )
    ET.SubElement(root, "Title").text = plan.title
    ET.SubElement(root, "Series").text = plan.title
    chapters = ", ".join(c.title for c in plan.chapters)
    ET.SubElement(root, "Summary").text = f"{plan.title} — {chapters}" if chapters else plan.title
    ET.SubElement(root, "PageCount").text = str(page_count)
    ET.SubElement(root, "LanguageISO").text = plan.language
    ET.SubElement(root, "Genre").text = get_style(plan.style).name
    manga = get_style(plan.style).reading_direction == "rtl"
    ET.SubElement(root, "Manga").text = "YesAndRightToLeft" if manga else "No"
    characters = ", ".join(c.name for c in plan.characters)
    if characters:
        ET.SubElement(root, "Characters").text = characters
    pages_el = ET.SubElement(root, "Pages")
    for i in range(page_count):
        attrs = {"Image": str(i), "Type": "FrontCover" if i == 0 else "Story"}
        if i < len(pages):
            attrs["ImageWidth"], attrs["ImageHeight"] = str(pages[i][0]), str(pages[i][1])
        ET.SubElement(pages_el, "Page", attrs)
    ET.indent(root)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8")


def export_cbz(page_paths: Sequence[str | os.PathLike[str]], path: str | os.PathLike[str], *, plan: ComicPlan) -> Path:
    """A CBZ (zip) of the pages as ``001.png``, ``002.png``... plus ``ComicInfo.xml``, atomically.

    Raises:
        ValueError: no pages.
    """
    if not page_paths:
        raise ValueError("a CBZ needs at least one page")
    sizes = []
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, p in enumerate(page_paths, 1):
            with Image.open(p) as im:
                sizes.append(im.size)
            # PNGs are already compressed: store them
            zf.write(p, f"{i:03d}{Path(p).suffix.lower()}", compress_type=zipfile.ZIP_STORED)
        zf.writestr("ComicInfo.xml", comic_info_xml(plan, len(page_paths), sizes), compress_type=zipfile.ZIP_DEFLATED)
    return atomic_write_bytes(path, buf.getvalue())
