import itertools

import pytest

from storybench.plan.layouts import TEMPLATES, panel_rects


@pytest.mark.parametrize("layout", sorted(TEMPLATES))
def test_every_template_fits_the_page_without_overlaps(layout):
    W, H, margin, gutter = 1988, 3075, 75, 38
    rects = panel_rects(layout, W, H, margin=margin, gutter=gutter)
    assert len(rects) == TEMPLATES[layout].panel_count
    for r in rects:
        assert margin <= r.x0 < r.x1 <= W - margin and margin <= r.y0 < r.y1 <= H - margin
    gaps = []
    for a, b in itertools.combinations(rects, 2):
        overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
        overlap_y = min(a.y1, b.y1) - max(a.y0, b.y0)
        assert overlap_x <= 0 or overlap_y <= 0, (a, b)
        if overlap_y > 0:
            gaps.append(-overlap_x)
        if overlap_x > 0:
            gaps.append(-overlap_y)
    # panels are at least a gutter apart, and neighbours exactly one (±1 px of rounding)
    assert all(g >= gutter - 1 for g in gaps)
    if len(rects) > 1:
        assert any(abs(g - gutter) <= 1 for g in gaps)


def test_live_area_is_covered():
    rects = panel_rects("grid-2x2", 1000, 1000, margin=50, gutter=20)
    area = sum(r.width * r.height for r in rects)
    assert area == 4 * 440 * 440


def test_manga_3_reads_right_to_left():
    first, second, third = panel_rects("manga-3", 1000, 1500)
    assert first.x0 > second.x0 and first.y0 == second.y0
    assert third.y0 > first.y1


def test_rtl_mirrors_left_to_right_templates_but_not_manga_3():
    ltr = panel_rects("big-left", 1000, 1500)
    rtl = panel_rects("big-left", 1000, 1500, rtl=True)
    assert ltr[0].x0 < ltr[1].x0 and rtl[0].x0 > rtl[1].x0
    assert [(r.x0, r.x1) for r in rtl] == [(1000 - r.x1, 1000 - r.x0) for r in ltr]
    assert panel_rects("manga-3", 1000, 1500, rtl=True) == panel_rects("manga-3", 1000, 1500)


def test_impossible_margins_are_reported():
    with pytest.raises(ValueError, match="no live area"):
        panel_rects("single", 100, 100, margin=60)
