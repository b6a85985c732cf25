"""PDF export: one page per image, lossless by default, with metadata and a text layer.

Built with reportlab (``reportlab.pdfgen.canvas``) because it does everything this
export needs in one library and without hand-written PDF syntax: lossless images
(Flate-compressed pixels) or JPEG at a chosen quality, the document information
(``/Title``, ``/Author``, ``/Subject``, ``/Keywords``), the catalog's ``/Lang`` and
``/ViewerPreferences /Direction /R2L`` (PDF 1.7, ISO 32000-1 §12.2, table 150), and
TrueType text with a ``/ToUnicode`` map so Cyrillic is extracted correctly.
img2pdf is lossless too but cannot add text; pikepdf would only post-process.

The text layer is what scanned books carry as OCR text: every balloon's, caption's
and SFX's text, line by line, drawn with text render mode 3 (invisible, PDF §9.3.6) at
the place and size it is lettered on the page, stretched horizontally to the lettered
line's width, so the PDF can be searched, selected and read aloud. SFX text is laid
horizontally at the centre of its (rotated) lettering: text extractors such as
poppler's split slightly rotated lines into single letters. The font is Roboto
from the ``font-roboto`` package (Latin and Cyrillic), embedded as a subset.

Page geometry: a page of ``w`` x ``h`` pixels is ``w * 72 / dpi`` x ``h * 72 / dpi``
points; lettering boxes are in page pixels with y down (see
:class:`~storybench.compose.lettering.LetterItem`).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageFont
from reportlab import rl_config
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfdoc import PDFDate, PDFDictionary, PDFInfo, PDFName, PDFString
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from storybench.compose.comicinfo import clean_xml_text
from storybench.compose.lettering import LetterItem
from storybench.files import atomic_write_bytes
from storybench.fonts import font_path, get_font

__all__ = ["TEXT_LAYER_FONT", "export_pdf"]

# binary streams: reportlab's default ASCII85 wrapping makes every image 25 % larger
rl_config.useA85 = 0

#: Name of the embedded font of the invisible text layer.
TEXT_LAYER_FONT = "SB-Roboto"


@lru_cache(maxsize=1)
def _text_font() -> str:
    """Register Roboto Regular with reportlab once; its reportlab name."""
    path = font_path("Roboto") or font_path("Roboto-Medium")
    if path is None:
        raise RuntimeError("the PDF text layer needs the Roboto font: pip install font-roboto")
    pdfmetrics.registerFont(TTFont(TEXT_LAYER_FONT, str(path)))
    return TEXT_LAYER_FONT


class _DocumentInfo(PDFInfo):
    """The document information dictionary (PDF §14.3.3) without the fields left empty.

    reportlab writes every field, with "anonymous" for an unknown author and
    "unspecified" for a missing subject; an absent entry is what the format means
    by "unknown".
    """

    title = ""
    author = ""
    subject = ""
    keywords = ""
    creator = "storybench"
    producer = "storybench (reportlab)"

    @classmethod
    def of(cls, **fields: str) -> _DocumentInfo:
        """The information with ``fields`` (``title``, ``author``...) cleaned of control characters."""
        info = cls()
        for name, value in fields.items():
            setattr(info, name, clean_xml_text(value))
        return info

    def format(self, document: object) -> bytes:
        entries = {
            "Title": self.title,
            "Author": self.author,
            "Subject": self.subject,
            "Keywords": self.keywords,
            "Creator": self.creator,
            "Producer": self.producer,
        }
        info: dict[str, object] = {k: PDFString(v) for k, v in entries.items() if v}
        info["ModDate"] = info["CreationDate"] = PDFDate(
            ts=document._timeStamp,  # type: ignore[attr-defined]
            dateFormatter=self._dateFormatter,
        )
        info["Trapped"] = PDFName(self.trapped)
        return PDFDictionary(info).format(document)


def _page_image(path: str | os.PathLike[str], quality: int) -> tuple[ImageReader, int, int]:
    with Image.open(path) as im:
        im.load()
        width, height = im.size
        if quality >= 100:
            image = im.convert("RGBA" if im.mode in ("RGBA", "LA", "P") and "transparency" in im.info else "RGB")
            if image.mode == "RGBA":
                flat = Image.new("RGB", image.size, (255, 255, 255))
                flat.paste(image, mask=image.getchannel("A"))
                image = flat
            return ImageReader(image), width, height
        buf = io.BytesIO()
        im.convert("RGB").save(buf, "JPEG", quality=quality, optimize=True)
    buf.seek(0)
    return ImageReader(buf), width, height


def _draw_text_layer(c: canvas.Canvas, items: Sequence[LetterItem], page_height: float, k: float) -> None:
    """Invisible text of ``items`` on the current page; ``k`` is points per pixel."""
    font = _text_font()
    for item in items:
        lines = [clean_xml_text(line) for line in item.lines]
        if any(line.strip() for line in lines):
            _draw_item_text(c, item, lines, font, page_height, k)


def _draw_item_text(
    c: canvas.Canvas, item: LetterItem, lines: list[str], font: str, page_height: float, k: float
) -> None:
    """Invisible text of one lettering item: each non-blank line where the lettering drew it
    (captions left-aligned, the rest centred), as wide as drawn; ``k`` is points per pixel."""
    pil_font = get_font(item.font, item.size)
    ascent = pil_font.getmetrics()[0] if isinstance(pil_font, ImageFont.FreeTypeFont) else item.size
    x0, y0, x1, y1 = item.text_box
    line_h = max(1.0, (y1 - y0) / max(1, len(item.lines)))
    size_pt = max(1.0, item.size * k)
    c.saveState()
    c.translate(0, page_height)
    origin_x, origin_y = _text_origin(item)
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        drawn_w = pil_font.getlength(line)
        left = origin_x if item.kind == "caption" else origin_x + ((x1 - x0) - drawn_w) / 2
        baseline = origin_y + i * line_h + ascent
        _draw_invisible_line(c, line, (font, size_pt), drawn_w, (left, baseline), k)
    c.restoreState()


def _text_origin(item: LetterItem) -> tuple[float, float]:
    """Top-left of an item's text (pixels): its text box, or for SFX that box centred in the
    item's box, unrotated (text extractors split rotated lines)."""
    x0, y0, x1, y1 = item.text_box
    if item.kind == "sfx":
        cx, cy = (item.box[0] + item.box[2]) / 2, (item.box[1] + item.box[3]) / 2
        return cx - (x1 - x0) / 2, cy - (y1 - y0) / 2
    return x0, y0


def _draw_invisible_line(
    c: canvas.Canvas, line: str, font: tuple[str, float], drawn_w: float, at: tuple[float, float], k: float
) -> None:
    """One invisible line in ``font`` (name, points) starting at ``at`` (left, baseline; pixels
    from the page top), scaled horizontally to the ``drawn_w`` pixels the lettering drew;
    ``k`` is points per pixel."""
    name, size_pt = font
    left, baseline = at
    natural = pdfmetrics.stringWidth(line, name, size_pt)
    text = c.beginText()
    text.setTextRenderMode(3)  # invisible: neither filled nor stroked
    text.setFont(name, size_pt)
    if natural > 0 and drawn_w > 0:
        text.setHorizScale(100.0 * drawn_w * k / natural)
    text.setTextOrigin(left * k, -baseline * k)
    text.textOut(line)
    c.drawText(text)


def export_pdf(
    page_paths: Sequence[str | os.PathLike[str]],
    path: str | os.PathLike[str],
    *,
    dpi: int = 300,
    title: str = "",
    language: str = "en",
    author: str = "",
    subject: str = "",
    keywords: Sequence[str] = (),
    rtl: bool = False,
    quality: int = 100,
    lettering: Sequence[Sequence[LetterItem]] | None = None,
) -> Path:
    """One PDF page per image, in order, written atomically.

    Args:
        page_paths: page images (PNG), in reading order.
        path: the PDF to write.
        dpi: page resolution; a page is ``pixels * 72 / dpi`` points.
        title, author, subject, keywords: document information; an empty one is left
            out of the PDF (no placeholder such as reportlab's "anonymous").
        language: BCP-47 tag written as the catalog's ``/Lang``.
        rtl: write ``/ViewerPreferences << /Direction /R2L >>`` (right-to-left comics).
        quality: 100 embeds the pixels losslessly (Flate); 1..99 as JPEG of that quality.
        lettering: per page, the lettering items (page pixels) to put in the invisible
            text layer; ``None`` or a shorter list leaves pages without text.

    Returns:
        The path written.

    Raises:
        ValueError: no pages, or ``quality`` outside 1..100.
        OSError: a page cannot be read.
    """
    if not page_paths:
        raise ValueError("a PDF needs at least one page")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality: {quality} is not in 1..100")
    k = 72.0 / dpi
    buf = io.BytesIO()
    c = canvas.Canvas(buf, lang=language or None, pageCompression=1, invariant=0, pdfVersion=(1, 7))
    c._doc.info = _DocumentInfo.of(title=title, author=author, subject=subject, keywords=", ".join(keywords))
    c.setViewerPreference("DisplayDocTitle", "true")
    if rtl:
        c.setViewerPreference("Direction", "R2L")
    for index, page_path in enumerate(page_paths):
        image, width, height = _page_image(page_path, quality)
        page_w, page_h = width * k, height * k
        c.setPageSize((page_w, page_h))
        c.drawImage(image, 0, 0, width=page_w, height=page_h)
        if lettering is not None and index < len(lettering):
            _draw_text_layer(c, lettering[index], page_h, k)
        c.showPage()
    c.save()
    return atomic_write_bytes(path, buf.getvalue())
