"""Every script lettered or flagged: per-script fonts, right-to-left lines, SFX never split.

A Japanese manga page and an Arabic page are lettered in Noto fonts that have their
glyphs (no missing-glyph box); Arabic is shaped and set right to left by libraqm;
a line in a script no installed font has gives a lettering warning in every place
warnings go; an SFX is set smaller instead of being split with a hyphen.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont, features
from plan_factory import build_plan

from storybench.batch import read_catalog, render_plan
from storybench.cli import main
from storybench.compose import (
    compose_page,
    get_font,
    lettering_warnings,
    missing_chars,
    page_lettering,
    page_lettering_layout,
    page_warnings,
)
from storybench.compose.lettering import LetteringSpec, LetterItem, draw_items, layout_panel
from storybench.config import RenderSettings
from storybench.editor.model import PlanEditorModel
from storybench.fonts import WEIGHTS, choose_family, font_path, text_direction
from storybench.plan import parse_plan
from storybench.plan.layouts import Rect
from storybench.plan.styles import get_style
from storybench.render.storyboard import StoryboardBackend

PLANS = Path(__file__).parents[2] / "plans"
PREVIEW = RenderSettings(page_width=700, page_height=1083, margin=26, gutter=13)
CHARACTERS = [
    {"id": "char-1", "name": "Aiko", "appearance": "girl, short black hair", "clothing": "school uniform"},
    {"id": "char-2", "name": "Ren", "appearance": "boy, spiky hair", "clothing": "hoodie"},
]
JAPANESE = {
    "narrative": "その夜、町は静まり返っていた。誰も知らない秘密が、古い神社の奥で目を覚ます。",
    "lines": ["ねえ、聞こえた？あの音は何だったの？", "大丈夫だよ。僕がついている。行こう！"],
    "sfx": "ドドドド",
}
ARABIC = {
    "narrative": "في تلك الليلة، كانت المدينة صامتة تمامًا، وكان السر القديم ينتظر في الظلام.",
    "lines": ["مرحبا يا صديقي، هل سمعت ذلك الصوت؟", "لا تخف، أنا معك. هيا بنا!"],
    "sfx": "بوووم!",
}
HIEROGLYPHS = "𓀀𓁐𓃒𓆣"  # Egyptian hieroglyphs: no font installed here has them


def script_plan(texts: dict, *, language: str, style: str, layouts=("grid-2x2",)):
    """A plan whose panels speak, narrate and make noise in one script."""

    def panel(n: int, k: int) -> dict:
        return {
            "id": f"p{n}-k{k}",
            "characters": ["char-1", "char-2"],
            "action": f"action {n}.{k}",
            "location": "an old shrine at night",
            "mood": "tense",
            "camera": "medium shot",
            "dialogue": [
                {"character": "char-1" if i % 2 == 0 else "char-2", "text": t} for i, t in enumerate(texts["lines"])
            ],
            "narrative": texts["narrative"] if k in (1, 4) else None,
            "sfx": texts["sfx"] if k in (2, 3) else None,
        }

    data = build_plan(
        layouts,
        panel=panel,
        characters=CHARACTERS,
        plan_id=f"script-{language}",
        title="Script",
        style=style,
        language=language,
    )
    return parse_plan(data)


def lettered(plan, settings=PREVIEW):
    page = plan.chapters[0].pages[0]
    images = {p.id: Image.new("RGB", (64, 64), (150, 170, 190)) for p in page.panels}
    return page, page_lettering(plan, page, settings), compose_page(plan, page, images, settings)


def difference(a: Image.Image, b: Image.Image) -> int:
    """Sum of absolute grey-level differences."""
    hist = ImageChops.difference(a.convert("L"), b.convert("L")).histogram()
    return sum(level * count for level, count in enumerate(hist))


def ink_in(image: Image.Image, box) -> int:
    """Dark pixels (lettering ink) inside ``box``."""
    region = image.crop(box).convert("L")
    return sum(region.histogram()[:80])


def assert_real_glyphs(items: list[LetterItem], image: Image.Image, family_prefix: str) -> None:
    for item in items:
        assert item.font.startswith(family_prefix), (item.kind, item.font)
        font = get_font(item.font, item.size)
        assert missing_chars(font, item.text) == [], item.text
        if item.kind != "sfx":  # (the SFX is filled with the accent colour)
            assert ink_in(image, item.text_box) > 50, item.text


def test_a_japanese_manga_page_is_lettered_in_noto_sans_cjk_with_real_glyphs():
    plan = script_plan(JAPANESE, language="ja", style="manga")
    page, items, image = lettered(plan)
    assert {i.kind for i in items} == {"caption", "balloon", "sfx"}
    assert_real_glyphs(items, image, "NotoSansCJK-JP")
    assert page_warnings(plan, page, PREVIEW) == []
    # Japanese wraps between characters, without hyphens, never before 、。？！
    caption = next(i for i in items if i.kind == "caption")
    assert len(caption.lines) > 1 and "".join(caption.lines) == JAPANESE["narrative"]
    for item in items:
        for line in item.lines[1:]:
            assert line[0] not in "、。？！"
    # the SFX keeps the style's heavy weight (Roboto-Black → Noto Sans CJK Black)
    assert next(i for i in items if i.kind == "sfx").font == "NotoSansCJK-JP-Black"


@pytest.mark.skipif(not features.check("raqm"), reason="libraqm is needed to shape Arabic")
def test_an_arabic_page_is_shaped_and_set_right_to_left():
    plan = script_plan(ARABIC, language="ar", style="noir")
    page, items, image = lettered(plan)
    assert_real_glyphs(items, image, "NotoSansArabic")
    assert page_warnings(plan, page, PREVIEW) == []
    assert all(text_direction(i.text) == "rtl" for i in items)
    # shaped: joined letters are narrower than the same letters in their isolated forms
    font = get_font("NotoSansArabic-Medium", 40)
    word = "بالعالم"
    assert font.getlength(word) < sum(font.getlength(ch) for ch in word) - 5
    # right to left: the caption's lines are flush right, so its shorter last line starts further right
    caption = next(i for i in items if i.kind == "caption" and len(i.lines) > 1)
    x0, y0, x1, y1 = caption.text_box
    rows = (y1 - y0) / len(caption.lines)
    first = image.crop((x0, y0, x1, round(y0 + rows))).convert("L")
    last = image.crop((x0, round(y1 - rows), x1, y1)).convert("L")
    bbox_first = Image.eval(first, lambda v: 255 if v < 80 else 0).getbbox()
    bbox_last = Image.eval(last, lambda v: 255 if v < 80 else 0).getbbox()
    assert bbox_first and bbox_last
    assert abs(bbox_first[2] - bbox_last[2]) <= 6  # both end at the right edge
    assert bbox_last[0] > bbox_first[0] + 20  # the last line is shorter: it starts further right


@pytest.mark.skipif(not features.check("raqm"), reason="libraqm orders right-to-left text")
def test_a_hebrew_line_is_drawn_in_right_to_left_order():
    text = "שלום עולם"
    item = LetterItem(
        kind="caption",
        panel_id="p",
        text=text,
        lines=(text,),
        box=(0, 0, 400, 80),
        text_box=(10, 10, 390, 70),
        font=choose_family("Roboto-Medium", text).family,
        size=40,
        fill="#ffffff",
    )
    assert item.font.startswith("NotoSansHebrew")
    drawn = Image.new("RGB", (400, 80), "white")
    draw_items(drawn, [item], LetteringSpec(outline=1))
    # the same letters in visual order (reversed), laid out without bidi (Pillow's basic layout), flush right
    basic = ImageFont.truetype(str(font_path(item.font)), 40, layout_engine=ImageFont.Layout.BASIC)
    basic.set_variation_by_axes([WEIGHTS["Medium"]])  # as NotoSansHebrew-Medium
    expected = Image.new("RGB", (400, 80), "white")
    ImageDraw.Draw(expected).rectangle(item.box, fill=(255, 255, 255), outline=(15, 15, 15), width=2)
    ImageDraw.Draw(expected).text((390, 10), text[::-1], font=basic, fill=(15, 15, 15), anchor="ra")
    # (and the letters in logical order, as a left-to-right layout would set them)
    wrong = Image.new("RGB", (400, 80), "white")
    ImageDraw.Draw(wrong).rectangle(item.box, fill=(255, 255, 255), outline=(15, 15, 15), width=2)
    ImageDraw.Draw(wrong).text((390, 10), text, font=basic, fill=(15, 15, 15), anchor="ra")
    # equal but for anti-aliasing (libraqm places glyphs at sub-pixel positions)
    assert difference(drawn, expected) < 0.2 * difference(drawn, wrong)


def test_a_script_without_a_font_is_a_lettering_warning_everywhere(tmp_path, capsys):
    texts = {"narrative": "An inscription: " + HIEROGLYPHS, "lines": ["Read it: " + HIEROGLYPHS], "sfx": None}
    data = script_plan(texts, language="en", style="noir", layouts=("single",)).model_dump(mode="json", by_alias=True)
    plan = parse_plan(data)
    page = plan.chapters[0].pages[0]
    (layout,) = page_lettering_layout(plan, page, PREVIEW)
    assert layout.fits  # everything is placed...
    assert {g.kind for g in layout.glyph_gaps} == {"caption", "balloon"}  # ...but not every glyph exists
    assert set(layout.glyph_gaps[0].chars) == set(HIEROGLYPHS)
    warnings = [str(w) for w in page_warnings(plan, page, PREVIEW)]
    assert len(warnings) == 2
    assert warnings[0].startswith("page 1 panel 1: no installed font has glyphs for 𓀀 (U+13000), 𓁐 (U+13050)")
    assert "in the caption: they print as boxes" in warnings[0]
    # validate (the whole plan), the run summary, its run.json and the catalog carry it
    assert [str(w) for w in lettering_warnings(plan, PREVIEW)] == warnings
    summary = render_plan(plan, backend=StoryboardBackend(), output_dir=tmp_path, settings=PREVIEW, progress=False)
    assert summary.ok and summary.warnings == warnings
    manifest = json.loads((summary.run_dir / "run.json").read_text(encoding="utf-8"))
    assert manifest["warnings"] == warnings
    catalog = read_catalog(tmp_path)
    assert list(catalog[catalog.kind == "page"].warnings.iloc[0]) == warnings
    # the editor lists them on the panel
    model = PlanEditorModel(tmp_path / "editor")
    model.set_plan(plan)
    assert [i.message for i in model.lettering_warnings()] == [
        f"lettering: {w.message}" for w in lettering_warnings(plan)
    ]
    # and `storybench validate` prints them (at the print size)
    path = tmp_path / "hieroglyphs.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "warning: page 1 panel 1: no installed font has glyphs for 𓀀 (U+13000)" in out


def test_an_sfx_is_set_smaller_not_split_inside_a_word():
    plan = script_plan(
        {"narrative": None, "lines": [], "sfx": "KA-CHUNK!"}, language="en", style="noir", layouts=("single",)
    )
    panel = plan.chapters[0].pages[0].panels[0].model_copy(update={"sfx": "KA-CHUNK!"})
    style = get_style("noir")
    sizes = []
    for width in (1600, 700, 400, 260):
        (sfx,) = layout_panel(plan, panel, Rect(0, 0, width, 600), style, LetteringSpec()).items
        assert sfx.lines == ("KA-CHUNK!",)
        sizes.append(sfx.size)
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] < sizes[0]
    # too narrow even at the minimum size: left off and reported, never split
    layout = layout_panel(plan, panel, Rect(0, 0, 90, 600), style, LetteringSpec())
    assert layout.items == () and layout.sfx_dropped and "the SFX does not fit" in layout.problem()


def test_the_pdf_of_comet_vs_gearlock_carries_its_sfx_unbroken(tmp_path):
    pdftotext = subprocess.run(["which", "pdftotext"], capture_output=True, text=True).stdout.strip()
    if not pdftotext:
        pytest.skip("poppler's pdftotext is not installed")
    plan = parse_plan(json.loads((PLANS / "comet-vs-gearlock.json").read_text(encoding="utf-8")))
    summary = render_plan(plan, backend=StoryboardBackend(), output_dir=tmp_path, progress=False)
    text = subprocess.run(
        [pdftotext, "-enc", "UTF-8", str(summary.pdf), "-"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    lines = [line.strip() for line in text.splitlines()]
    assert "FWOOSH!" in lines and "KA-CHUNK!" in lines
    for _, page in plan.pages():
        for panel in page.panels:
            if panel.sfx:
                assert panel.sfx in lines, panel.sfx
    assert not [line for line in lines if line.endswith("-") and line.isupper()]
