"""Lettering never hides text: no item covers another or a tail; what cannot fit is reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from engine_support import FakeBackend, small_settings
from PIL import Image
from plan_fuzz import ODD_TEXT, run_cases

from storybench.batch import read_catalog, render_plan
from storybench.compose import compose_page, lettering_warnings, page_lettering_layout, page_rects, page_warnings
from storybench.compose.placement import bbox, overlaps, tail_polygon
from storybench.config import RenderSettings
from storybench.plan import ComicPlan, parse_plan

KITSUMY = Path(__file__).parents[1] / "data" / "kitsumy_plan.json"
PRINT = RenderSettings()  # 1988 x 3075 px, 300 dpi: min text 24 px
PREVIEW = RenderSettings(page_width=700, page_height=1083, margin=26, gutter=13)


def kitsumy() -> dict:
    return json.loads(KITSUMY.read_text(encoding="utf-8"))


def odd_plan(texts: list[str], *, lines_per_panel: int = 5, layout: str = "grid-2x2") -> ComicPlan:
    """A plan whose panels are lettered with ``texts`` (cycled), on one page of ``layout``."""
    data = kitsumy()
    page = data["chapters"][0]["pages"][0]
    panel = page["panels"][1]
    count = {"grid-2x2": 4, "action": 5, "single": 1, "big-top": 3}[layout]
    page["layout"] = layout
    page["panels"] = []
    k = 0
    for pos in range(1, count + 1):
        dialogue = []
        for _ in range(lines_per_panel):
            dialogue.append({"character": "char-1" if k % 2 else "char-2", "text": texts[k % len(texts)][:400]})
            k += 1
        page["panels"].append(
            dict(
                panel,
                id=f"pan{pos}",
                position=pos,
                dialogue=dialogue,
                narrative=texts[k % len(texts)][:600],
                sfx=" ".join(texts[(k + 1) % len(texts)].splitlines())[:40],  # an SFX is one line
            )
        )
    return parse_plan(data)


def check_page(plan: ComicPlan, page, settings: RenderSettings) -> tuple[int, set[str]]:
    """Assert the layout's boxes never overlap and stay in their panels; returns (items, panels with drops)."""
    layouts = page_lettering_layout(plan, page, settings)
    ordered = sorted(page.panels, key=lambda p: p.position)
    rects = {p.id: r for p, r in zip(ordered, page_rects(plan, page, settings), strict=True)}
    dropped = set()
    total = 0
    for layout in layouts:
        rect = rects[layout.panel_id]
        regions = []  # (item index, box) for every item box and balloon tail
        for i, item in enumerate(layout.items):
            assert rect.x0 <= item.box[0] and item.box[2] <= rect.x1, (item.panel_id, item.box, rect)
            assert rect.y0 <= item.box[1] and item.box[3] <= rect.y1, (item.panel_id, item.box, rect)
            assert item.size >= layout.min_size
            regions.append((i, item.box))
            if item.tail is not None:
                regions.append((i, bbox(tail_polygon(item.box, item.tail))))
        for a in range(len(regions)):
            for b in range(a + 1, len(regions)):
                (ia, box_a), (ib, box_b) = regions[a], regions[b]
                if ia != ib:
                    assert not overlaps(box_a, box_b), (layout.panel_id, layout.items[ia].text[:20], box_a, box_b)
        total += len(layout.items)
        if not layout.fits:
            dropped.add(layout.panel_id)
    warned = {w.panel_id for w in page_warnings(plan, page, settings)}
    assert warned == dropped
    return total, dropped


def test_five_lines_of_399_characters_are_never_stacked_on_each_other():
    plan = odd_plan([("слово " * 80)[:399]], lines_per_panel=5, layout="action")
    page = plan.chapters[0].pages[0]
    items, dropped = check_page(plan, page, PRINT)
    assert dropped and items > 0
    (first, *_) = page_warnings(plan, page, PRINT)
    assert str(first).startswith("page 1 panel 1: 4 of 5 balloons and the SFX do not fit at the minimum size 24 px")


def test_short_dialogue_fits_without_warnings():
    plan = parse_plan(kitsumy())
    for _, page in plan.pages():
        items, dropped = check_page(plan, page, PRINT)
        assert not dropped and items == 5  # a caption and an SFX, then 2 + 1 balloons
    assert lettering_warnings(plan) == []


@pytest.mark.parametrize("settings", [PRINT, PREVIEW], ids=["print", "preview"])
def test_odd_text_renders_without_overlaps_and_warns_where_it_cannot_fit(settings):
    long = "Довгий діалог без кінця. " * 16
    texts = [*ODD_TEXT, long[:400], "\n".join(["рядок"] * 30)]
    for layout, lines in (("grid-2x2", 1), ("grid-2x2", 3), ("action", 5), ("single", 5), ("big-top", 2)):
        plan = odd_plan(texts, lines_per_panel=lines, layout=layout)
        page = plan.chapters[0].pages[0]
        check_page(plan, page, settings)
    # 2,000 characters of dialogue in one panel
    plan = odd_plan([long[:400]], lines_per_panel=5, layout="single")
    page = plan.chapters[0].pages[0]
    _, dropped = check_page(plan, page, settings)
    assert dropped == set()  # a whole page holds 2,000 characters at the minimum size
    images = {p.id: Image.new("RGB", (64, 64), "gray") for p in page.panels}
    out = compose_page(plan, page, images, settings)
    assert out.size == (settings.page_width, settings.page_height)


def test_fuzzer_valid_plans_letter_without_overlaps(tmp_path):
    report = run_cases(0, 120, tmp_path)
    assert len(report.valid_plans) > 20
    for plan in report.valid_plans[:60]:
        for _, page in plan.pages():
            check_page(plan, page, PREVIEW)


def test_a_render_records_lettering_warnings_in_the_catalog_and_the_summary(tmp_path):
    plan = odd_plan([("слово " * 80)[:399]], lines_per_panel=5, layout="action")
    settings = small_settings(page_width=700, page_height=1083, dpi=100, margin=26, gutter=13)
    summary = render_plan(plan, backend=FakeBackend(), output_dir=tmp_path, settings=settings, progress=False)
    assert summary.ok  # a warning is not a failure
    assert summary.warnings and all(" of 5 balloons " in w and "do not fit" in w for w in summary.warnings)
    assert "lettering warning: page 1 panel " in str(summary)
    catalog = read_catalog(tmp_path)
    page_rows = catalog[catalog.kind == "page"]
    assert list(page_rows.warnings.iloc[0]) == summary.warnings
    assert catalog[catalog.kind == "panel"].warnings.isna().all()
    manifest = json.loads((summary.run_dir / "run.json").read_text(encoding="utf-8"))
    assert manifest["warnings"] == summary.warnings


def test_the_editor_lists_the_lettering_warning_on_its_panel(tmp_path):
    from storybench.editor.model import PlanEditorModel

    model = PlanEditorModel(tmp_path)
    model.set_plan(odd_plan([("слово " * 80)[:399]], lines_per_panel=5, layout="action"))
    warnings = model.lettering_warnings()
    assert warnings and warnings[0].path == "chapters[0].pages[0].panels[0]"
    assert warnings[0].message.startswith("lettering: 4 of 5 balloons and the SFX do not fit")
    model.select(panel=0)
    assert model.panel_warnings() == [warnings[0].message]
