"""Webtoon strips: every panel once in reading order, white gutters, slices at most 1280 px
high whose union is the long strip."""

from __future__ import annotations

from pathlib import Path

import pytest
from export_renders import rendered, settings
from PIL import Image, ImageChops
from plan_factory import plan_dict

from storybench.compose import compose_page
from storybench.compose.webtoon import WEBTOON_MAX_HEIGHT, export_webtoon, slice_strip, webtoon_strip
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
