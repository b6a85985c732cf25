"""Webtoon strips: every panel once in reading order, white gutters, slices at most 1280 px
high whose union is the long strip; a long strip in files at most 32,767 px high, the cover
first, cuts that leave no thin sliver and miss the lettering."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from export_renders import rendered, settings
from PIL import Image, ImageChops
from plan_factory import plan_dict

from storybench.batch import render_plan
from storybench.compose import compose_page, page_lettering
from storybench.compose.webtoon import (
    WEBTOON_MAX_FILE_HEIGHT,
    WEBTOON_MAX_HEIGHT,
    export_webtoon,
    slice_strip,
    webtoon_strip,
)
from storybench.compose.webtoon_cuts import MIN_PIECE_RATIO, cut_rows
from storybench.plan import parse_plan

COLOURS = [(200, 30, 30), (30, 160, 40), (40, 60, 210), (220, 180, 20), (150, 40, 170), (20, 170, 170), (240, 120, 20)]


def _stack(paths: list[Path]) -> Image.Image:
    images = [Image.open(p).convert("RGB") for p in paths]
    out = Image.new("RGB", (images[0].width, sum(i.height for i in images)))
    y = 0
    for im in images:
        out.paste(im, (0, y))
        y += im.height
    return out


def _coloured_comic(tmp_path: Path, style: str):
    plan = parse_plan(plan_dict(("grid-2x2", "manga-3"), style=style))
    s = settings()
    pages, order = {}, []
    colours = iter(COLOURS)
    for _, page in plan.pages():
        images = {}
        for panel in sorted(page.panels, key=lambda p: p.position):
            colour = next(colours)
            images[panel.id] = Image.new("RGB", (64, 64), colour)
            order.append(colour)
        path = tmp_path / f"page-{page.page_number}.png"
        compose_page(plan, page, images, s).save(path)
        pages[page.page_number] = path
    return plan, s, pages, order


def _row_colours(strip: Image.Image) -> list[tuple[int, int, int]]:
    """The panel colours met going down the strip, each run once."""
    runs: list[tuple[int, int, int]] = []
    pixels = strip.load()
    for y in range(strip.height):
        row = [pixels[x, y] for x in range(0, strip.width, 7)]
        found = max(COLOURS, key=row.count)
        if row.count(found) > len(row) // 3 and (not runs or runs[-1] != found):
            runs.append(found)
    return runs


@pytest.mark.parametrize("style", ["noir", "manga"])
def test_every_panel_once_in_reading_order_with_white_gutters(style: str, tmp_path: Path) -> None:
    plan, s, pages, order = _coloured_comic(tmp_path, style)
    strip, panels = webtoon_strip(plan, pages, s, width=400)
    assert strip.width == 400
    assert _row_colours(strip) == order  # manga: right-to-left order on the page, top to bottom in the strip
    assert [p.panel_id for p in panels] == [
        p.id for _, page in plan.pages() for p in sorted(page.panels, key=lambda p: p.position)
    ]
    previous = 0
    for p in panels:
        gutter = strip.crop((0, previous, strip.width, p.top))
        assert gutter.height > 0 and gutter.getcolors() == [(gutter.width * gutter.height, (255, 255, 255))]
        previous = p.bottom


def test_slices_are_short_enough_cut_in_gutters_and_rebuild_the_strip(tmp_path: Path) -> None:
    plan, s, pages, _ = _coloured_comic(tmp_path, "noir")
    result = export_webtoon(plan, pages, tmp_path / "webtoon", s, width=300, max_height=700)
    with Image.open(result.strip) as strip:
        rebuilt = _stack(result.slices)
        assert ImageChops.difference(rebuilt, strip.convert("RGB")).getbbox() is None
        assert rebuilt.size == strip.size
    tops = [0]
    for path in result.slices:
        with Image.open(path) as im:
            assert im.height <= 700
            tops.append(tops[-1] + im.height)
    inside = [c for c in tops[1:-1] if any(p.top < c < p.bottom for p in result.panels)]
    assert not inside  # every panel is shorter than a slice here, so no cut crosses one
    # a second, shorter export removes the slices it no longer has
    again = export_webtoon(plan, pages, tmp_path / "webtoon", s, width=300, max_height=4000)
    assert sorted(p.name for p in (tmp_path / "webtoon").glob("[0-9]*.png")) == [p.name for p in again.slices]


def test_tall_panels_are_cut_at_the_limit() -> None:
    strip = Image.new("RGB", (100, 3000), "white")
    pieces = slice_strip(strip, max_height=1280)
    assert [p.height for p in pieces] == [1280, 1280, 440]
    with pytest.raises(ValueError, match="max_height"):
        slice_strip(strip, max_height=0)


@pytest.mark.parametrize("case", ["ltr", "manga"])
def test_batch_render_writes_the_strip_and_its_slices(case: str) -> None:
    plan, summary = rendered(case)
    assert summary.webtoon is not None
    slices = sorted((summary.run_dir / "webtoon").glob("[0-9][0-9][0-9].png"))
    assert slices
    for path in slices:
        with Image.open(path) as im:
            assert im.width == 800 and im.height <= WEBTOON_MAX_HEIGHT
    with Image.open(summary.webtoon) as strip:
        assert ImageChops.difference(_stack(slices), strip.convert("RGB")).getbbox() is None
    assert plan.panel_count() > 0


# -- long strips: files at most 32,767 px, the cover first, no thin slivers ----------------
TWELVE_PAGES = ("grid-2x2", "three-rows", "big-left", "big-top", "manga-3", "strip-3", "big-right", "big-bottom")
TWELVE_PAGES += ("three-rows", "manga-3", "three-rows", "single")


def test_a_twelve_page_webtoon_is_split_into_files_no_taller_than_32767_px(tmp_path: Path) -> None:
    plan = parse_plan(plan_dict(TWELVE_PAGES, plan_id="twelve-pages"))
    assert plan.page_count() == 12 and plan.panel_count() == 35
    s = settings(exports=["webtoon"], cover=True)
    summary = render_plan(plan, backend="storyboard", output_dir=tmp_path, settings=s, progress=False)
    assert summary.status == "completed" and summary.webtoon is not None, summary.errors
    manifest = json.loads((summary.run_dir / "webtoon" / "manifest.json").read_text(encoding="utf-8"))
    folder = summary.run_dir / "webtoon"
    parts = [(folder / row["file"]).resolve() for row in manifest["strip"]]
    slices = [folder / row["file"] for row in manifest["slices"]]
    assert parts[0] == summary.webtoon.resolve() and len(parts) >= 2  # the strip is over 32,767 px
    assert manifest["height"] > WEBTOON_MAX_FILE_HEIGHT and manifest["cover"] is True
    heights = {p: Image.open(p).height for p in parts + slices}
    print(f"tallest webtoon file: {max(heights.values())} px of a {manifest['height']} px strip")
    assert max(heights.values()) <= WEBTOON_MAX_FILE_HEIGHT
    assert all(heights[p] <= WEBTOON_MAX_HEIGHT for p in slices)
    assert min(heights[p] for p in slices) >= WEBTOON_MAX_HEIGHT * MIN_PIECE_RATIO  # no thin sliver
    assert min(heights[p] for p in parts) >= WEBTOON_MAX_FILE_HEIGHT * MIN_PIECE_RATIO
    whole = _stack(parts)
    assert whole.height == manifest["height"]
    assert ImageChops.difference(_stack(slices), whole).getbbox() is None  # the same strip either way
    notes = [w for w in summary.warnings if w.startswith("webtoon: ")]
    assert len(notes) == 1 and "32,767 px" in notes[0] and manifest["notes"] == [notes[0].removeprefix("webtoon: ")]
    # the cover first: the strip's first picture is the cover, scaled to the strip's width
    cover = Image.open(summary.cover).convert("RGB")
    gap = round(whole.width * 0.05)
    height = round(cover.height * whole.width / cover.width)
    top = whole.crop((0, gap, whole.width, gap + height))
    assert ImageChops.difference(top, cover.resize(top.size, Image.Resampling.LANCZOS)).getbbox() is None
    # rendered again from the cache: the strip's files and the slices are written again, the same
    again = render_plan(plan, backend="storyboard", output_dir=tmp_path, settings=s, progress=False)
    assert again.status == "completed" and again.run_dir != summary.run_dir
    again_folder = again.run_dir / "webtoon"
    again_manifest = json.loads((again_folder / "manifest.json").read_text(encoding="utf-8"))
    again_parts = [again_folder / row["file"] for row in again_manifest["strip"]]
    assert ImageChops.difference(_stack(again_parts), whole).getbbox() is None


def test_cuts_leave_no_sliver_and_miss_the_lettering() -> None:
    assert cut_rows(1300, 1280) == [980]  # not 1280 + a 20 px sliver
    assert cut_rows(3000, 1280, panels=[(40, 2900)]) == [1280, 2560]
    # a panel taller than a slice must be cut: above the balloon that the limit would cut through
    assert cut_rows(3000, 1280, panels=[(40, 2900)], avoid=[(1200, 1290)]) == [1200, 2480]
    # a gutter in reach beats a cut inside a panel; one too close to the top (a sliver) does not count
    assert cut_rows(3000, 1280, panels=[(0, 100), (140, 2900)]) == [1280, 2560]
    assert cut_rows(3000, 1280, panels=[(0, 900), (940, 2900)]) == [940, 2220]
    with pytest.raises(ValueError, match="max_height"):
        cut_rows(10, 0)


def test_slices_avoid_the_lettering_of_a_tall_panel(tmp_path: Path) -> None:
    plan, s, pages, _ = _coloured_comic(tmp_path, "noir")
    lettering = {n: page_lettering(plan, page, s) for _, page in plan.pages() if (n := page.page_number) in pages}
    result = export_webtoon(plan, pages, tmp_path / "w", s, width=300, max_height=200, lettering=lettering)
    rows = []
    for placed in result.panels:
        _, y0, _, y1 = placed.source
        k = (placed.bottom - placed.top) / (y1 - y0)
        rows += [
            (placed.top + (i.box[1] - y0) * k, placed.top + (i.box[3] - y0) * k)
            for i in lettering[placed.page_number]
            if i.panel_id == placed.panel_id
        ]
    assert rows
    cuts = list(itertools.accumulate(Image.open(p).height for p in result.slices))[:-1]
    assert cuts and not [c for c in cuts for a, b in rows if a + 1 < c < b - 1]
