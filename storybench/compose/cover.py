"""Cover pages: a comic's cover and a plain title card.

:func:`compose_cover` lays out a cover at the page size of the comic: the title lettered
large in the style's SFX font across a band at the top, a line with the characters'
names below it in the style's lettering font, and the art under them — the characters'
sheets side by side when there are any, else the first panel — framed like a panel.
Its lettering is laid out by :func:`cover_lettering` as
:class:`~storybench.compose.lettering.LetterItem` s, so the PDF's text layer carries the title.

:func:`title_card` is the cover of a story without illustrations (EPUB).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PIL import Image, ImageDraw

from storybench.compose.comicinfo import clean_xml_text
from storybench.compose.lettering import LetteringSpec, LetterItem, fit_text
from storybench.compose.page import PanelImage, cover_crop
from storybench.config import RenderSettings
from storybench.fonts import get_font
from storybench.plan.models import ComicPlan
from storybench.plan.styles import Style, get_style

__all__ = ["COVER_VERSION", "compose_cover", "cover_lettering", "title_card"]

#: Part of the cover's cache key: bump when covers change for the same inputs.
COVER_VERSION = "cover-1"


def _open(image: PanelImage) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    with Image.open(image) as im:
        im.load()
        return im.copy()


def _ink(style: Style) -> str:
    return "#111111" if style.palette.paper.lower() > "#808080" else style.palette.ink


def _fit(text: str, family: str, box: tuple[int, int, int, int], max_size: int, min_size: int, fill: str) -> LetterItem:
    """``text`` fitted into ``box`` (pixels), centred, as an item (kind ``sfx``: display lettering)."""
    x0, y0, x1, y1 = box
    text = " ".join(clean_xml_text(text).split())
    size, lines, (tw, th) = fit_text(text, family, x1 - x0, y1 - y0, max_size, min_size, 1.1)
    cx, top = (x0 + x1) / 2, y0 + ((y1 - y0) - th) / 2
    text_box = (round(cx - tw / 2), round(top), round(cx - tw / 2) + tw, round(top) + th)
    return LetterItem(
        kind="sfx",
        panel_id="cover",
        text=text,
        lines=tuple(lines),
        box=text_box,
        text_box=text_box,
        font=family,
        size=size,
        fill=fill,
    )


def _draw(draw: ImageDraw.ImageDraw, item: LetterItem) -> None:
    font = get_font(item.font, item.size)
    x0, y0, x1, y1 = item.text_box
    line_h = (y1 - y0) / max(1, len(item.lines))
    for i, line in enumerate(item.lines):
        draw.text(((x0 + x1) / 2, y0 + i * line_h), line, font=font, fill=item.fill, anchor="ma")


def _bands(settings: RenderSettings) -> tuple[int, int]:
    """Heights of the title band and of the names line, pixels."""
    return round(settings.page_height * 0.2), round(settings.page_height * 0.05)


def cover_lettering(plan: ComicPlan, settings: RenderSettings) -> list[LetterItem]:
    """The cover's lettering (page pixels): the title, then the characters' names.

    Layout only: :func:`compose_cover` draws exactly these items.
    """
    style = get_style(plan.style)
    width, margin = settings.page_width, settings.margin
    spec = LetteringSpec().scaled(width)
    ink = _ink(style)
    title_h, names_h = _bands(settings)
    items = [
        _fit(
            plan.title,
            style.sfx_font,
            (margin, margin, width - margin, margin + title_h),
            max(spec.sfx_max_size, round(title_h * 0.45)),
            spec.min_size,
            ink,
        )
    ]
    names = " · ".join(c.name for c in plan.characters)
    if names:
        top = margin + title_h
        items.append(
            _fit(names, style.font, (margin, top, width - margin, top + names_h), round(names_h * 0.6), 6, ink)
        )
    return items


def compose_cover(plan: ComicPlan, art: Sequence[PanelImage], settings: RenderSettings) -> Image.Image:
    """The cover page of ``plan`` at the page size of ``settings``.

    Args:
        plan: the plan (title, style, characters).
        art: the characters' sheets (up to four are shown side by side), or the first
            panel's image; images or image files.
        settings: page size, margin, gutter, border.

    Returns:
        The RGB page; its lettering is :func:`cover_lettering`.

    Raises:
        ValueError: no art.
    """
    if not art:
        raise ValueError("a cover needs art: the characters' sheets or the first panel")
    style = get_style(plan.style)
    width, height, margin = settings.page_width, settings.page_height, settings.margin
    page = Image.new("RGB", (width, height), style.palette.paper)
    draw = ImageDraw.Draw(page)
    ink = _ink(style)
    for item in cover_lettering(plan, settings):
        _draw(draw, item)
    title_h, names_h = _bands(settings)
    art_top = margin + title_h + names_h + settings.gutter
    shown = list(art[:4])
    gutter = settings.gutter if len(shown) > 1 else 0
    cell_w = (width - 2 * margin - gutter * (len(shown) - 1)) // len(shown)
    cell_h = max(1, height - margin - art_top)
    for i, image in enumerate(shown):
        x = margin + i * (cell_w + gutter)
        page.paste(cover_crop(_open(image), cell_w, cell_h), (x, art_top))
        if settings.border:
            draw.rectangle((x, art_top, x + cell_w - 1, art_top + cell_h - 1), outline=ink, width=settings.border)
    return page


def title_card(
    title: str, subtitle: str = "", *, size: tuple[int, int] = (1200, 1800), style_id: str = "noir"
) -> Image.Image:
    """A plain cover: ``title`` and ``subtitle`` centred on the style's paper colour.

    Args:
        title: the big text.
        subtitle: smaller text under it ("" for none).
        size: ``(width, height)``, pixels.
        style_id: a style id (fonts and colours).
    """
    style = get_style(style_id)
    width, height = size
    page = Image.new("RGB", size, style.palette.paper)
    draw = ImageDraw.Draw(page)
    ink = _ink(style)
    pad = round(width * 0.08)
    _draw(
        draw, _fit(title, style.sfx_font, (pad, round(height * 0.25), width - pad, round(height * 0.55)), 200, 10, ink)
    )
    if subtitle:
        _draw(
            draw, _fit(subtitle, style.font, (pad, round(height * 0.6), width - pad, round(height * 0.75)), 60, 8, ink)
        )
    rule_y = round(height * 0.57)
    draw.line((pad, rule_y, width - pad, rule_y), fill=ink, width=max(2, math.ceil(width / 400)))
    return page
