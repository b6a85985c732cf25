"""Page composition: panel images cover-cropped into the layout, borders, gutters, lettering.

:func:`compose_page` is what the batch engine calls; :func:`page_lettering` and
:func:`compose_from_items` split it so an Editor JSON document can be composed again
from its own (possibly edited) lettering.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from PIL import Image, ImageDraw, ImageOps

from storybench.compose.lettering import LetteringSpec, LetterItem, PanelLettering, draw_items, layout_panel
from storybench.config import RenderSettings
from storybench.plan.layouts import Rect, panel_rects
from storybench.plan.models import ComicPlan, Page
from storybench.plan.styles import Style, get_style

__all__ = [
    "COMPOSER_VERSION",
    "compose_from_items",
    "compose_page",
    "cover_crop",
    "page_lettering",
    "page_lettering_layout",
    "page_lettering_spec",
    "page_rects",
    "page_rtl",
]

#: Bump when composed pages change for the same inputs: it is part of every page cache key.
COMPOSER_VERSION = "compose-3"  # 3: SFX never split in a word; per-script fonts; right-to-left lines

PanelImage = str | os.PathLike[str] | Image.Image


def page_rtl(style: Style, settings: RenderSettings) -> bool:
    """Whether pages read right to left: ``settings.reading_direction``, or the style's when ``"auto"``."""
    direction = settings.reading_direction
    if direction == "auto":
        direction = style.reading_direction
    return direction == "rtl"


def page_rects(plan: ComicPlan, page: Page, settings: RenderSettings) -> list[Rect]:
    """Panel rectangles of ``page`` in reading order (index 0 is position 1), pixels."""
    return panel_rects(
        page.layout,
        settings.page_width,
        settings.page_height,
        margin=settings.margin,
        gutter=settings.gutter,
        rtl=page_rtl(get_style(plan.style), settings),
    )


def _ordered_panels(page: Page):
    return sorted(page.panels, key=lambda p: p.position)


def page_lettering_spec(settings: RenderSettings) -> LetteringSpec:
    """Lettering sizes for the page size of ``settings`` (``min_text_px`` is the minimum readable size)."""
    return LetteringSpec(min_size=settings.min_text_px).scaled(settings.page_width)


def page_lettering_layout(plan: ComicPlan, page: Page, settings: RenderSettings) -> list[PanelLettering]:
    """The lettering layout of every panel of ``page`` in reading order, with what did not fit."""
    style = get_style(plan.style)
    spec = page_lettering_spec(settings)
    return [
        layout_panel(plan, panel, rect, style, spec)
        for panel, rect in zip(_ordered_panels(page), page_rects(plan, page, settings), strict=False)
    ]


def page_lettering(plan: ComicPlan, page: Page, settings: RenderSettings) -> list[LetterItem]:
    """Every lettering item of ``page`` (page pixels), panel by panel in reading order.

    Items never cover each other or a balloon's tail; what could not be placed is
    reported by :func:`page_lettering_layout` (and :func:`storybench.compose.capacity.page_warnings`).
    """
    return [item for panel in page_lettering_layout(plan, page, settings) for item in panel.items]


def cover_crop(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale ``image`` to cover ``width`` x ``height`` pixels and crop the centre (RGB)."""
    return ImageOps.fit(image.convert("RGB"), (width, height), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))


def _open(image: PanelImage) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    with Image.open(image) as im:
        im.load()
        return im.copy()


def compose_from_items(
    size: tuple[int, int],
    rects: Sequence[Rect],
    images: Sequence[PanelImage],
    items: Sequence[LetterItem],
    style: Style,
    *,
    border: int = 6,
) -> Image.Image:
    """Compose a page from geometry, images and lettering items.

    Args:
        size: page ``(width, height)`` in pixels.
        rects: panel rectangles, pixels.
        images: one image (or image file) per rectangle.
        items: lettering to draw over the panels.
        style: gives the paper (gutter) and ink (border) colours.
        border: panel border width, pixels.

    Returns:
        The RGB page.

    Raises:
        ValueError: ``rects`` and ``images`` differ in length.
    """
    if len(rects) != len(images):
        raise ValueError(f"{len(rects)} panel rectangles but {len(images)} images")
    page = Image.new("RGB", size, style.palette.paper)
    draw = ImageDraw.Draw(page)
    ink = "#111111" if style.palette.paper.lower() > "#808080" else style.palette.ink
    for rect, image in zip(rects, images, strict=True):
        page.paste(cover_crop(_open(image), rect.width, rect.height), (rect.x0, rect.y0))
        if border:
            draw.rectangle((rect.x0, rect.y0, rect.x1 - 1, rect.y1 - 1), outline=ink, width=border)
    draw_items(page, items, LetteringSpec().scaled(size[0]))  # (outline and spacing only)
    return page


def compose_page(
    plan: ComicPlan, page: Page, panel_images: Mapping[str, PanelImage], settings: RenderSettings
) -> Image.Image:
    """Compose and letter one page.

    Args:
        plan: the plan (style, characters).
        page: the page to compose.
        panel_images: panel id → image or image file.
        settings: page size, margin, gutter, border, reading direction.

    Returns:
        The RGB page, ``settings.page_width`` x ``settings.page_height`` pixels.

    Raises:
        KeyError: a panel of the page has no image (the message names it).
    """
    panels = _ordered_panels(page)
    missing = [p.id for p in panels if p.id not in panel_images]
    if missing:
        raise KeyError(f"page {page.page_number}: no image for panel(s) {', '.join(missing)}")
    return compose_from_items(
        (settings.page_width, settings.page_height),
        page_rects(plan, page, settings),
        [panel_images[p.id] for p in panels],
        page_lettering(plan, page, settings),
        get_style(plan.style),
        border=settings.border,
    )
