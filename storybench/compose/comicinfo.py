"""Comic-archive metadata: ComicInfo.xml (v2.0) and the ComicBookInfo archive comment.

ComicInfo.xml follows the Anansi Project's ComicInfo v2.0 schema
(https://github.com/anansi-project/comicinfo, ``schema/v2.0/ComicInfo.xsd``):

* ``ComicInfo`` is an ``xs:sequence``: elements must appear in the schema's order
  (:data:`COMICINFO_V2_ORDER`), each at most once; only v2.0 elements are written, so
  the document is also valid against the v2.1 draft (a superset);
* ``PageCount`` is an ``xs:int``; ``Manga`` one of ``Unknown | No | Yes |
  YesAndRightToLeft``; ``Page/@Type`` one of the ``ComicPageType`` values
  (``FrontCover`` only on a real cover); ``Page/@Image`` is the 0-based image index;
* values are XML-escaped by the serializer, and characters XML 1.0 forbids (control
  characters other than tab, LF, CR) are removed first.

``Manga`` comes from the direction the pages were *rendered* in, not the style alone:
``YesAndRightToLeft`` when they read right to left, ``Yes`` for a manga-style plan
rendered left to right, ``No`` otherwise.

The zip archive comment carries the same metadata as ComicBookInfo 1.0 JSON
(``{"appID", "lastModified", "ComicBookInfo/1.0": {...}}``, the format of the Google
Code ``comicbookinfo`` project): it is what ComicTagger, comicbox, Mylar and older
readers look for when there is no ComicInfo.xml. CoMet (a second XML file) is not
written: no current reader prefers it over ComicInfo.xml.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from storybench.plan.models import ComicPlan
from storybench.plan.styles import get_style

__all__ = [
    "COMICINFO_V2_ORDER",
    "PageInfo",
    "PageType",
    "clean_xml_text",
    "comic_book_info",
    "comic_info_xml",
    "manga_value",
]

#: The element order of ``ComicInfo`` in the v2.0 schema (its ``xs:sequence``).
COMICINFO_V2_ORDER: tuple[str, ...] = (
    "Title",
    "Series",
    "Number",
    "Count",
    "Volume",
    "AlternateSeries",
    "AlternateNumber",
    "AlternateCount",
    "Summary",
    "Notes",
    "Year",
    "Month",
    "Day",
    "Writer",
    "Penciller",
    "Inker",
    "Colorist",
    "Letterer",
    "CoverArtist",
    "Editor",
    "Publisher",
    "Imprint",
    "Genre",
    "Web",
    "PageCount",
    "LanguageISO",
    "Format",
    "BlackAndWhite",
    "Manga",
    "Characters",
    "Teams",
    "Locations",
    "ScanInformation",
    "StoryArc",
    "SeriesGroup",
    "AgeRating",
    "Pages",
    "CommunityRating",
    "MainCharacterOrTeam",
    "Review",
)

# XML 1.0 Char production: tab, LF, CR and everything from U+0020 but surrogates, U+FFFE, U+FFFF
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

PageType = Literal["FrontCover", "Story", "BackCover", "InnerCover", "Other"]


@dataclass(frozen=True)
class PageInfo:
    """One image of the archive, as ComicInfo's ``Pages/Page`` describes it.

    Attributes:
        width, height: image size, pixels.
        size: file size, bytes.
        type: a ComicInfo ``ComicPageType`` value.
    """

    width: int
    height: int
    size: int = 0
    type: PageType = "Story"


def clean_xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry (NUL, other C0 controls...)."""
    return _NOT_XML_CHAR.sub("", text)


def manga_value(plan: ComicPlan, rtl: bool | None = None) -> Literal["No", "Yes", "YesAndRightToLeft"]:
    """ComicInfo's ``Manga`` for ``plan`` rendered in direction ``rtl``.

    Args:
        plan: the plan (its style says whether it is manga).
        rtl: whether the pages were rendered right to left; ``None``: the style's direction.
    """
    style = get_style(plan.style)
    if rtl is None:
        rtl = style.reading_direction == "rtl"
    if rtl:
        return "YesAndRightToLeft"
    return "Yes" if style.reading_direction == "rtl" else "No"


def _summary(plan: ComicPlan) -> str:
    chapters = ", ".join(c.title for c in plan.chapters)
    return f"{plan.title} — {chapters}" if chapters else plan.title


def comic_info_xml(
    plan: ComicPlan,
    pages: Sequence[PageInfo],
    *,
    rtl: bool | None = None,
    author: str = "",
    modified: datetime | None = None,
) -> bytes:
    """ComicInfo.xml (v2.0) for ``plan`` whose archive holds ``pages`` in order.

    Args:
        plan: the plan (title, chapters, language, style, characters).
        pages: one :class:`PageInfo` per image, in archive order.
        rtl: the reading direction the pages were rendered in (``None``: the style's).
        author: written as ``Writer`` when given.
        modified: date written as ``Year``/``Month``/``Day`` (default: today, UTC).

    Returns:
        The UTF-8 document with its XML declaration.
    """
    when = modified or datetime.now(UTC)
    style = get_style(plan.style)
    values: dict[str, str] = {
        "Title": plan.title,
        "Series": plan.title,
        "Number": "1",
        "Summary": _summary(plan),
        "Notes": f"Made with storybench; style {style.id}.",
        "Year": str(when.year),
        "Month": str(when.month),
        "Day": str(when.day),
        "Writer": author,
        "Genre": style.name,
        "PageCount": str(len(pages)),
        "LanguageISO": plan.language,
        "BlackAndWhite": "Yes" if style.monochrome else "No",
        "Manga": manga_value(plan, rtl),
        "Characters": ", ".join(c.name for c in plan.characters),
    }
    root = ET.Element(
        "ComicInfo",
        {
            "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
            "xmlns:xsd": "http://www.w3.org/2001/XMLSchema",
        },
    )
    for name in COMICINFO_V2_ORDER:
        if name == "Pages":
            pages_el = ET.SubElement(root, "Pages")
            for i, page in enumerate(pages):
                attrs = {"Image": str(i), "Type": page.type}
                if page.size:
                    attrs["ImageSize"] = str(page.size)
                attrs["ImageWidth"], attrs["ImageHeight"] = str(page.width), str(page.height)
                ET.SubElement(pages_el, "Page", attrs)
            continue
        value = clean_xml_text(values.get(name, "")).strip()
        if value:
            ET.SubElement(root, name).text = value
    ET.indent(root)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8")


def comic_book_info(
    plan: ComicPlan, *, author: str = "", modified: datetime | None = None, app_id: str = "storybench"
) -> bytes:
    """The ComicBookInfo 1.0 JSON that goes into the zip archive comment (UTF-8).

    Args:
        plan: the plan.
        author: credited as ``Writer`` when given.
        modified: ``lastModified`` and the publication year/month (default: now, UTC).
        app_id: the writing application.
    """
    when = modified or datetime.now(UTC)
    style = get_style(plan.style)
    info: dict[str, object] = {
        "series": clean_xml_text(plan.title),
        "title": clean_xml_text(plan.title),
        "issue": 1,
        "publicationYear": when.year,
        "publicationMonth": when.month,
        "genre": style.name,
        "language": plan.language,
        "comments": clean_xml_text(_summary(plan)),
        "credits": [{"person": clean_xml_text(author), "role": "Writer", "primary": True}] if author else [],
        "tags": [clean_xml_text(c.name) for c in plan.characters],
    }
    doc = {
        "appID": app_id,
        "lastModified": when.strftime("%Y-%m-%d %H:%M:%S"),
        "ComicBookInfo/1.0": info,
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
