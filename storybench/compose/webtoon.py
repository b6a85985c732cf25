"""Webtoon export: a comic as one vertical scroll, and the same scroll cut into slices.

Layout: the cover first (when there is one), then every panel of the exported pages,
in reading order (page by page, then ``position``), each cut from its composed page —
its rectangle holds the panel's art, border and lettering, since lettering never
leaves its panel — scaled to the strip width and stacked in one column; gutters (and a
margin at the top and the bottom) are white space.

Files: slices at most ``max_height`` pixels high (1280 px: what webtoon platforms
accept per image), and the long strip itself in files at most
:data:`WEBTOON_MAX_FILE_HEIGHT` (32,767 px, 2**15 - 1: the tallest canvas Chromium
and Firefox draw, and a limit of many image viewers and editors) — ``strip.png``, then
``strip-2.png``, ``strip-3.png``... when it is taller. Cuts follow
:mod:`storybench.compose.webtoon_cuts`: in a gutter when one lies in reach, else
outside the lettering, and never leaving a piece thinner than a quarter of the
tallest. Stacking the slices (or the strip's files) in order gives back the strip
exactly. ``manifest.json`` beside the slices lists every file with its rows, and a
note when the strip had to be split.
"""

from __future__ import annotations

import io
import itertools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from storybench.compose.page import page_rects
from storybench.compose.webtoon_cuts import cut_rows
from storybench.config import RenderSettings
from storybench.files import atomic_write_bytes, atomic_write_text
from storybench.plan.models import ComicPlan

__all__ = [
    "COVER_ID",
    "WEBTOON_MAX_FILE_HEIGHT",
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
#: Tallest image file common decoders and canvases accept, pixels (2**15 - 1).
WEBTOON_MAX_FILE_HEIGHT = 32767
#: ``panel_id`` (and ``page_number`` 0) of the cover in a strip layout.
COVER_ID = "cover"
WHITE = (255, 255, 255)

PageSource = str | os.PathLike[str] | Image.Image


@dataclass(frozen=True)
class StripPanel:
    """Where one panel (or the cover) sits in the strip.

    Attributes:
        panel_id: the panel (:data:`COVER_ID` for the cover).
        page_number: its page (0 for the cover).
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
        strip: the long PNG (its first file when it is split).
        slices: the slice PNGs, top to bottom.
        panels: the strip layout.
        parts: every file of the long strip, top to bottom (``[strip]`` when it fits one).
        manifest: ``manifest.json`` beside the slices.
        notes: what the reader should know (the strip split into files), in English.
    """

    strip: Path
    slices: list[Path]
    panels: list[StripPanel]
    parts: list[Path] = field(default_factory=list)
    manifest: Path | None = None
    notes: list[str] = field(default_factory=list)


def _open_rgb(source: PageSource) -> Image.Image:
    if isinstance(source, Image.Image):
        return source.convert("RGB")
    with Image.open(source) as im:
        return im.convert("RGB")


def _size(source: PageSource) -> tuple[int, int]:
    if isinstance(source, Image.Image):
        return source.size
    with Image.open(source) as im:
        return im.size


def strip_layout(
    plan: ComicPlan,
    page_numbers: Sequence[int],
    settings: RenderSettings,
    *,
    width: int = WEBTOON_WIDTH,
    gutter: int | None = None,
    cover_size: tuple[int, int] | None = None,
) -> tuple[list[StripPanel], int]:
    """The panels of ``page_numbers`` placed in a strip ``width`` pixels wide.

    Args:
        plan: the plan.
        page_numbers: the pages to include, in any order (they are taken in plan order).
        settings: the settings the pages were composed with (page size, reading direction).
        width: strip width, pixels.
        gutter: white space between panels and at both ends, pixels (default 5 % of ``width``).
        cover_size: the cover's size in pixels when the strip starts with it.

    Returns:
        ``(panels, height)``: the cover and every panel in reading order, and the strip's height in pixels.
    """
    gap = round(width * 0.05) if gutter is None else gutter
    wanted = set(page_numbers)
    placed: list[StripPanel] = []
    y = gap
    if cover_size is not None:
        cw, ch = cover_size
        height = max(1, round(ch * width / cw))
        placed.append(StripPanel(COVER_ID, 0, (0, 0, cw, ch), y, y + height))
        y += height + gap
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
    pages: Mapping[int, PageSource],
    settings: RenderSettings,
    *,
    width: int = WEBTOON_WIDTH,
    gutter: int | None = None,
    cover: PageSource | None = None,
) -> tuple[Image.Image, list[StripPanel]]:
    """The long strip of the composed ``pages`` (page number → page image or file), after ``cover``.

    Returns:
        ``(strip, panels)``: the RGB strip and where the cover and each panel are in it.

    Raises:
        ValueError: no pages.
    """
    if not pages:
        raise ValueError("a webtoon needs at least one page")
    cover_size = _size(cover) if cover is not None else None
    panels, height = strip_layout(plan, list(pages), settings, width=width, gutter=gutter, cover_size=cover_size)
    strip = Image.new("RGB", (width, height), WHITE)
    opened: dict[int, Image.Image] = {}
    for placed in panels:
        page = opened.get(placed.page_number)
        if page is None:
            source = cover if placed.panel_id == COVER_ID and cover is not None else pages[placed.page_number]
            page = _open_rgb(source)
            opened = {placed.page_number: page}  # one page in memory at a time
        crop = page.crop(placed.source).resize((width, placed.bottom - placed.top), Image.Resampling.LANCZOS)
        strip.paste(crop, (0, placed.top))
    return strip, panels


def _lettering_rows(panels: Sequence[StripPanel], lettering: Mapping[int, Sequence[Any]]) -> list[tuple[int, int]]:
    """The strip rows of the lettering items (``.panel_id``, ``.box`` in page pixels) of each page."""
    rows = []
    for placed in panels:
        _, y0, _, y1 = placed.source
        scale = (placed.bottom - placed.top) / max(1, y1 - y0)
        for item in lettering.get(placed.page_number, ()):
            if item.panel_id != placed.panel_id:
                continue
            top = placed.top + (max(item.box[1], y0) - y0) * scale
            bottom = placed.top + (min(item.box[3], y1) - y0) * scale
            if bottom > top:
                rows.append((int(top), int(bottom) + 1))
    return rows


def slice_strip(
    strip: Image.Image,
    panels: Sequence[StripPanel] = (),
    *,
    max_height: int = WEBTOON_MAX_HEIGHT,
    avoid: Sequence[tuple[int, int]] = (),
) -> list[Image.Image]:
    """Cut ``strip`` into slices at most ``max_height`` pixels high (see
    :func:`~storybench.compose.webtoon_cuts.cut_rows`).

    Args:
        strip: the long strip.
        panels: its layout (from :func:`webtoon_strip`); without it, no row is a gutter.
        max_height: tallest slice, pixels.
        avoid: strip rows ``(top, bottom)`` not to cut through when a panel must be cut (lettering).

    Raises:
        ValueError: ``max_height`` below 1.
    """
    rows = [(p.top, p.bottom) for p in panels]
    edges = [0, *cut_rows(strip.height, max_height, panels=rows, avoid=avoid), strip.height]
    return [strip.crop((0, a, strip.width, b)) for a, b in itertools.pairwise(edges)]


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=6)
    return buf.getvalue()


def _part_path(strip_path: Path, n: int) -> Path:
    """The ``n``-th file (1-based) of a long strip: ``strip.png``, ``strip-2.png``..."""
    return strip_path if n == 1 else strip_path.with_name(f"{strip_path.stem}-{n}{strip_path.suffix}")


def _read_parts(strip_path: Path, height: int) -> tuple[Image.Image, list[Path]] | None:
    """The strip stacked back from its files, and the files; ``None`` when they are missing
    or not ``height`` rows in all."""
    images: list[Image.Image] = []
    paths: list[Path] = []
    total = 0
    while total < height and _part_path(strip_path, len(paths) + 1).is_file():
        paths.append(_part_path(strip_path, len(paths) + 1))
        images.append(_open_rgb(paths[-1]))
        total += images[-1].height
    if not images or total != height:
        return None
    strip = Image.new("RGB", (images[0].width, total), WHITE)
    y = 0
    for im in images:
        strip.paste(im, (0, y))
        y += im.height
    return strip, paths


def _write_pieces(pieces: Sequence[Image.Image], paths: Sequence[Path], stale: Sequence[Path]) -> list[Path]:
    """Write ``pieces`` to ``paths`` atomically and remove the files of ``stale`` not among them."""
    written = [atomic_write_bytes(path, _png(piece)) for piece, path in zip(pieces, paths, strict=True)]
    for old in stale:
        if old not in written:
            old.unlink(missing_ok=True)
    return written


def _manifest(
    out: Path, strip_height: int, parts: list[Path], slices: list[Path], cover: bool
) -> tuple[Path, list[str]]:
    """Write ``manifest.json`` into ``out``: every file with its rows, and the notes."""

    def rows(paths: list[Path]) -> list[dict[str, Any]]:
        listed, top = [], 0
        for path in paths:
            height = _size(path)[1]
            listed.append({"file": os.path.relpath(path, out), "top": top, "height": height})
            top += height
        return listed

    notes = []
    if len(parts) > 1:
        notes.append(
            f"the webtoon strip is {strip_height:,} px tall, over the {WEBTOON_MAX_FILE_HEIGHT:,} px that common "
            f"image decoders and canvases accept: written as {len(parts)} files "
            f"({', '.join(p.name for p in parts)}), to be read one after the other"
        )
    manifest = {
        "height": strip_height,
        "max_file_height": WEBTOON_MAX_FILE_HEIGHT,
        "cover": cover,
        "strip": rows(parts),
        "slices": rows(slices),
        "notes": notes,
    }
    path = atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return path, notes


def export_webtoon(
    plan: ComicPlan,
    pages: Mapping[int, PageSource],
    folder: str | os.PathLike[str],
    settings: RenderSettings,
    *,
    width: int = WEBTOON_WIDTH,
    max_height: int = WEBTOON_MAX_HEIGHT,
    strip_path: str | os.PathLike[str] | None = None,
    reuse_strip: bool = False,
    cover: PageSource | None = None,
    lettering: Mapping[int, Sequence[Any]] | None = None,
) -> Webtoon:
    """Write the long strip, its slices (``001.png``, ``002.png``...) and ``manifest.json``, atomically.

    Slices, and files of the strip, left over from an earlier, longer export are removed.

    Args:
        plan: the plan.
        pages: page number → composed page (image or file), the pages to include.
        folder: where the slices and the manifest go.
        settings: the settings the pages were composed with.
        width: strip width, pixels.
        max_height: tallest slice, pixels.
        strip_path: where the long strip goes (default ``folder/strip.png``); when it is
            taller than :data:`WEBTOON_MAX_FILE_HEIGHT`, its further files go beside it
            (``strip-2.png``...).
        reuse_strip: ``strip_path`` (and its further files) already hold this strip
            (e.g. from a cache): only cut the slices from it; when they do not, the
            strip is made again.
        cover: the cover page (image or file), first in the strip; ``None``: no cover.
        lettering: page number (0: the cover) → its lettering items (``panel_id`` and
            ``box`` in page pixels, e.g. :class:`~storybench.compose.lettering.LetterItem`),
            not to be cut through when a panel must be cut.

    Returns:
        The :class:`Webtoon` written.

    Raises:
        ValueError: no pages.
    """
    out = Path(folder)
    target = Path(strip_path) if strip_path is not None else out / "strip.png"
    found = None
    if reuse_strip:
        cover_size = _size(cover) if cover is not None else None
        panels, height = strip_layout(plan, list(pages), settings, width=width, cover_size=cover_size)
        found = _read_parts(target, height)
    if found is not None:
        strip, parts = found
        avoid = _lettering_rows(panels, lettering or {})
    else:
        strip, panels = webtoon_strip(plan, pages, settings, width=width, cover=cover)
        avoid = _lettering_rows(panels, lettering or {})
        pieces = slice_strip(strip, panels, max_height=WEBTOON_MAX_FILE_HEIGHT, avoid=avoid)
        stale = sorted(target.parent.glob(f"{target.stem}-[0-9]*{target.suffix}"))
        parts = _write_pieces(pieces, [_part_path(target, n) for n in range(1, len(pieces) + 1)], stale)
    slices = slice_strip(strip, panels, max_height=max_height, avoid=avoid)
    paths = [out / f"{i:03d}.png" for i in range(1, len(slices) + 1)]
    written = _write_pieces(slices, paths, sorted(out.glob("[0-9][0-9][0-9].png")))
    manifest, notes = _manifest(out, strip.height, parts, written, cover is not None)
    return Webtoon(target, written, panels, parts, manifest, notes)
