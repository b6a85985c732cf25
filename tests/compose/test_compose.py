import io
import re
import xml.etree.ElementTree as ET
import zipfile

import pytest
from PIL import Image
from plan_factory import plan_dict

from storybench.compose import (
    compose_page,
    export_cbz,
    export_pdf,
    get_font,
    letter_panel,
    missing_chars,
    page_lettering,
    page_rects,
    save_page_png,
)
from storybench.compose.lettering import LetteringSpec, fit_text
from storybench.config import RenderSettings
from storybench.plan import parse_plan
from storybench.plan.layouts import Rect
from storybench.plan.styles import get_style

SMALL = RenderSettings(page_width=800, page_height=1200, margin=30, gutter=16, border=3)


def solid_images(plan, page, colour=(200, 40, 40)):
    return {p.id: Image.new("RGB", (64, 48), colour) for p in page.panels}


def inside_ellipse(box, x, y):
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    a, b = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
    return ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 <= 1.0001


def long_plan(text, layout="grid-2x2", language="en"):
    data = plan_dict((layout,), language=language)
    for panel in data["chapters"][0]["pages"][0]["panels"]:
        panel["dialogue"] = [{"character": "char-1", "text": text}, {"character": "char-2", "text": text[::-1]}]
        panel["characters"] = ["char-1", "char-2"]
    return parse_plan(data)


@pytest.mark.parametrize("layout", ["grid-2x2", "action", "strip-3", "single"])
def test_text_never_leaves_its_balloon_and_balloons_stay_in_their_panel(layout):
    text = "Listen to me carefully, because I will only say this once and the whole city depends on it."
    plan = long_plan(text, layout)
    page = plan.chapters[0].pages[0]
    rects = {
        p.id: r
        for p, r in zip(sorted(page.panels, key=lambda p: p.position), page_rects(plan, page, SMALL), strict=False)
    }
    items = page_lettering(plan, page, SMALL)
    assert items
    for item in items:
        r = rects[item.panel_id]
        assert r.x0 <= item.box[0] < item.box[2] <= r.x1 and r.y0 <= item.box[1] < item.box[3] <= r.y1
        font = get_font(item.font, item.size)
        for line in item.lines:
            assert font.getlength(line) <= item.text_box[2] - item.text_box[0] + 1
        if item.kind == "balloon":
            x0, y0, x1, y1 = item.text_box
            for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1)):
                assert inside_ellipse(item.box, x, y), (item.text, item.box, item.text_box)


def test_wrapped_lines_keep_every_word():
    font = get_font("Roboto-Medium", 30)
    text = "Тоді візьми мою стрічку. Її вишивала бабуся, коли ще жила в Яворові."
    size, lines, (w, h) = fit_text(text, "Roboto-Medium", 260, 400, 40, 12)
    assert " ".join(lines).split() == text.split()
    assert w <= 260 and h <= 400 and 12 <= size <= 40
    assert font  # loaded


def test_long_text_shrinks_the_font_instead_of_overflowing():
    short = fit_text("Hi!", "Roboto-Medium", 300, 120, 46, 12)
    long = fit_text("word " * 60, "Roboto-Medium", 300, 120, 46, 12)
    assert short[0] == 46 and long[0] < short[0]


def test_balloons_of_a_panel_do_not_cover_each_other_or_the_caption():
    plan = long_plan("Short line, then another one.")
    for page_items in [page_lettering(plan, plan.chapters[0].pages[0], SMALL)]:
        by_panel = {}
        for item in page_items:
            by_panel.setdefault(item.panel_id, []).append(item)
        for items in by_panel.values():
            boxes = [i.box for i in items if i.kind in ("balloon", "caption")]
            for i, a in enumerate(boxes):
                for b in boxes[i + 1 :]:
                    assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


def test_tail_points_toward_the_speaker():
    data = plan_dict(("single",))
    panel = data["chapters"][0]["pages"][0]["panels"][0]
    panel.update(
        characters=["char-1", "char-2"],
        camera="wide shot",
        narrative=None,
        sfx=None,
        dialogue=[{"character": "char-1", "text": "Left."}, {"character": "char-2", "text": "Right."}],
    )
    plan = parse_plan(data)
    rect = Rect(0, 0, 1600, 1000)
    items = letter_panel(plan, plan.chapters[0].pages[0].panels[0], rect, get_style("noir"), LetteringSpec())
    left, right = [i for i in items if i.kind == "balloon"]
    assert left.speaker == "char-1" and right.speaker == "char-2"
    assert left.tail[0] < right.tail[0]
    assert left.tail[1] > left.box[3] and right.tail[1] > right.box[3]  # tails hang below toward the figures


def test_cyrillic_lettering_uses_real_glyphs():
    text = "Хто насмілився прийти до мого лісу? Її, ґанок, єнот!"
    plan = long_plan(text, "single", language="uk")
    items = page_lettering(plan, plan.chapters[0].pages[0], SMALL)
    for item in items:
        font = get_font(item.font, item.size)
        assert missing_chars(font, item.text) == []
    # and the check itself notices missing glyphs
    assert missing_chars(get_font("Roboto-Medium", 30), "\u0378") == ["\u0378"]


def test_compose_page_places_panels_and_letters_them():
    plan = parse_plan(plan_dict(("grid-2x2",)))
    page = plan.chapters[0].pages[0]
    img = compose_page(plan, page, solid_images(plan, page), SMALL)
    assert img.size == (800, 1200) and img.mode == "RGB"
    paper = Image.new("RGB", (1, 1), get_style("noir").palette.paper).getpixel((0, 0))
    assert img.getpixel((5, 5)) == paper  # margin
    for r in page_rects(plan, page, SMALL):
        # the bottom-left inner corner shows the panel image (lettering sits top and bottom-right)
        assert img.getpixel((r.x0 + 10, r.y1 - 10)) == (200, 40, 40)
        assert img.getpixel((r.x0 + 1, r.y0 + 1)) != (200, 40, 40)  # border


def test_compose_page_names_a_missing_panel():
    plan = parse_plan(plan_dict(("grid-2x2",)))
    page = plan.chapters[0].pages[0]
    images = solid_images(plan, page)
    images.pop(page.panels[2].id)
    with pytest.raises(KeyError, match=page.panels[2].id):
        compose_page(plan, page, images, SMALL)


def test_manga_pages_read_right_to_left():
    plan = parse_plan(plan_dict(("grid-2x2",), style="manga"))
    page = plan.chapters[0].pages[0]
    rects = page_rects(plan, page, SMALL)
    assert rects[0].x0 > rects[1].x0
    ltr = page_rects(plan, page, SMALL.model_copy(update={"reading_direction": "ltr"}))
    assert ltr[0].x0 < ltr[1].x0


def test_sfx_is_large_and_rotated():
    plan = parse_plan(plan_dict(("grid-2x2",)))
    items = page_lettering(plan, plan.chapters[0].pages[0], SMALL)
    sfx = [i for i in items if i.kind == "sfx"]
    balloons = [i for i in items if i.kind == "balloon"]
    assert sfx and sfx[0].text == "BANG!" and sfx[0].rotation != 0
    assert sfx[0].size > max(b.size for b in balloons)


def test_png_pdf_and_cbz_exports(tmp_path):
    plan = parse_plan(plan_dict(("single", "grid-2x2")))
    paths = []
    for _, page in plan.pages():
        img = compose_page(plan, page, solid_images(plan, page), SMALL)
        paths.append(save_page_png(img, tmp_path / f"page-{page.page_number:03d}.png", dpi=300))
    with Image.open(paths[0]) as im:
        assert round(im.info["dpi"][0]) == 300
    pdf = export_pdf(paths, tmp_path / "c.pdf", dpi=300, title=plan.title, language=plan.language)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and len(re.findall(rb"/Type\s*/Page(?![a-z])", data)) == 2
    cbz = export_cbz(paths, tmp_path / "c.cbz", plan=plan)
    with zipfile.ZipFile(cbz) as zf:
        names = zf.namelist()
        assert names == ["001.png", "002.png", "ComicInfo.xml"]
        info = ET.fromstring(zf.read("ComicInfo.xml"))
        assert info.findtext("Title") == plan.title
        assert info.findtext("PageCount") == "2" and info.findtext("LanguageISO") == "en"
        assert len(info.find("Pages")) == 2
        Image.open(io.BytesIO(zf.read("002.png"))).verify()
