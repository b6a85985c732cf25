"""Webtoon export: a comic as one vertical scroll, and the same scroll cut into slices.

Layout: every panel of the exported pages, in reading order (page by page, then
``position``), is cut from its composed page — its rectangle holds the panel's art,
border and lettering, since lettering never leaves its panel — scaled to the strip
width and stacked in one column; gutters (and a margin at the top and the bottom) are
white space. Slices are at most ``max_height`` pixels high (1280 px: what webtoon
platforms accept per image) and are cut in a gutter whenever one lies in reach, so a
panel is split only when it is taller than a slice. Stacking the slices in order gives
back the strip exactly.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from storybench.compose.page import page_rects
from storybench.config import RenderSettings
from storybench.files import atomic_write_bytes
from storybench.plan.models import ComicPlan

__all__ = [
    "WEBTOON_MAX_HEIGHT",
    "WEBTOON_WIDTH",
    "StripPanel",
    "Webtoon",
    "export_webtoon",
    "slice_strip",
    "strip_layout",
    "webtoon_strip",
]

#: Default strip width, pixels.
WEBTOON_WIDTH = 800
#: Tallest slice webtoon platforms accept, pixels.
WEBTOON_MAX_HEIGHT = 1280
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class StripPanel:
    """Where one panel sits in the strip.

    Attributes:
        panel_id: the panel.
        page_number: its page.
        source: its rectangle on the composed page, ``(x0, y0, x1, y1)`` pixels.
        top, bottom: its rows in the strip, pixels (``bottom`` exclusive).
    """

    panel_id: str
    page_number: int
    source: tuple[int, int, int, int]
    top: int
    bottom: int


@dataclass(frozen=True)
class Webtoon:
    """A written webtoon export.

    Attributes:
        strip: the long PNG.
        slices: the slice PNGs, top to bottom.
        panels: the strip layout.
    """

    strip: Path
    slices: list[Path]
    panels: list[StripPanel]


def strip_layout(
    plan: ComicPlan,
    page_numbers: Sequence[int],
    settings: RenderSettings,
    *,
    width: int = WEBTOON_WIDTH,
    gutter: int | None = None,
) -> tuple[list[StripPanel], int]:
    """The panels of ``page_numbers`` placed in a strip ``width`` pixels wide.

    Args:
        plan: the plan.
        page_numbers: the pages to include, in any order (they are taken in plan order).
        settings: the settings the pages were composed with (page size, reading direction).
        width: strip width, pixels.
        gutter: white space between panels and at both ends, pixels (default 5 % of ``width``).

    Returns:
        ``(panels, height)``: every panel in reading order, and the strip's height in pixels.
    """
    gap = round(width * 0.05) if gutter is None else gutter
    wanted = set(page_numbers)
    placed: list[StripPanel] = []
    y = gap
    for _, page in plan.pages():
        if page.page_number not in wanted:
            continue
        panels = sorted(page.panels, key=lambda p: p.position)
        for panel, rect in zip(panels, page_rects(plan, page, settings), strict=True):
            height = max(1, round(rect.height * width / rect.width))
            placed.append(StripPanel(panel.id, page.page_number, (rect.x0, rect.y0, rect.x1, rect.y1), y, y + height))
            y += height + gap
    return placed, max(y, 1)


def webtoon_strip(
    plan: ComicPlan,
    pages: Mapping[int, str | os.PathLike[str] | Image.Image],
    settings: RenderSettings,
    *,
    width: int = WEBTOON_WIDTH,
    gutter: int | None = None,
) -> tuple[Image.Image, list[StripPanel]]:
    """The long strip of the composed ``pages`` (page number → page image or file).

    Returns:
        ``(strip, panels)``: the RGB strip and where each panel is in it.

    Raises:
        ValueError: no pages.
    """
    if not pages:
        raise ValueError("a webtoon needs at least one page")
    panels, height = strip_layout(plan, list(pages), settings, width=width, gutter=gutter)
    strip = Image.new("RGB", (width, height), WHITE)
    opened: dict[int, Image.Image] = {}
    for placed in panels:
        page = opened.get(placed.page_number)
        if page is None:
            source = pages[placed.page_number]
            if isinstance(source, Image.Image):
                page = source.convert("RGB")
            else:
                with Image.open(source) as im:
                    page = im.convert("RGB")
            opened = {placed.page_number: page}  # one page in memory at a time
        crop = page.crop(placed.source).resize((width, placed.bottom - placed.top), Image.Resampling.LANCZOS)
        strip.paste(crop, (0, placed.top))
    return strip, panels


def slice_strip(
    strip: Image.Image, panels: Sequence[StripPanel] = (), *, max_height: int = WEBTOON_MAX_HEIGHT
) -> list[Image.Image]:
    """Cut ``strip`` into slices at most ``max_height`` pixels high, in gutters when possible.

    Args:
        strip: the long strip.
        panels: its layout (from :func:`webtoon_strip`); without it, slices are cut every ``max_height`` rows.
        max_height: tallest slice, pixels.

    Raises:
        ValueError: ``max_height`` below 1.
    """
    if max_height < 1:
        raise ValueError(f"max_height: {max_height} is below 1")
    height = strip.height
    # rows where a cut touches no panel: the gutters
    gaps: list[tuple[int, int]] = []
    previous = 0
    for p in sorted(panels, key=lambda p: p.top):
        gaps.append((previous, p.top))
        previous = p.bottom
    gaps.append((previous, height))
    slices = []
    top = 0
    while top < height:
        limit = min(height, top + max_height)
        cut = limit
        if limit < height:
            in_gutter = [min(end, limit) for start, end in gaps if start <= limit and start > top]
            in_gutter = [c for c in in_gutter if c > top]
            if in_gutter:
                cut = max(in_gutter)
        slices.append(strip.crop((0, top, strip.width, cut)))
        top = cut
    return slices


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=6)
    return buf.getvalue()


def export_webtoon(
    plan: ComicPlan,
    pages: Mapping[int, str | os.PathLike[str] | Image.Image],
    folder: str | os.PathLike[str],
    settings: RenderSettings,
    *,
    width: int = WEBTOON_WIDTH,
    max_height: int = WEBTOON_MAX_HEIGHT,
    strip_path: str | os.PathLike[str] | None = None,
    reuse_strip: bool = False,
) -> Webtoon:
    """Write the long strip and its slices (``001.png``, ``002.png``...) into ``folder``, atomically.

    Slices left over from an earlier, longer export in ``folder`` are removed.

    Args:
        plan: the plan.
        pages: page number → composed page (image or file), the pages to include.
        folder: where the slices go.
        settings: the settings the pages were composed with.
        width: strip width, pixels.
        max_height: tallest slice, pixels.
        strip_path: where the long strip goes (default ``folder/strip.png``).
        reuse_strip: ``strip_path`` already holds this strip (e.g. from a cache): only
            cut the slices from it.

    Returns:
        The :class:`Webtoon` written.

    Raises:
        ValueError: no pages.
        OSError: ``reuse_strip`` and no strip at ``strip_path``.
    """
    out = Path(folder)
    target = Path(strip_path) if strip_path is not None else out / "strip.png"
    if reuse_strip:
        panels, _ = strip_layout(plan, list(pages), settings, width=width)
        with Image.open(target) as im:
            strip = im.convert("RGB")
    else:
        strip, panels = webtoon_strip(plan, pages, settings, width=width)
        atomic_write_bytes(target, _png(strip))
    paths = [
        atomic_write_bytes(out / f"{i:03d}.png", _png(piece))
        for i, piece in enumerate(slice_strip(strip, panels, max_height=max_height), 1)
    ]
    keep = {p.name for p in paths}
    for stale in out.glob("[0-9][0-9][0-9].png"):
        if stale.name not in keep:
            stale.unlink()
    return Webtoon(target, paths, panels)
