import json

from PIL import Image, ImageChops
from plan_factory import plan_dict

from storybench.compose import compose_page
from storybench.compose.editor_json import (
    compose_editor_page,
    editor_document,
    editor_json_schema,
    load_editor_json,
    save_editor_json,
)
from storybench.config import RenderSettings
from storybench.plan import parse_plan

SMALL = RenderSettings(page_width=700, page_height=1050, margin=30, gutter=14, border=3)


def test_export_reimport_compose_gives_identical_pages(tmp_path):
    plan = parse_plan(plan_dict(("grid-2x2", "big-top"), language="uk"))
    images = {}
    for i, (_, page) in enumerate(plan.pages()):
        for k, panel in enumerate(page.panels):
            path = tmp_path / "panels" / f"{panel.id}.png"
            path.parent.mkdir(exist_ok=True)
            Image.new("RGB", (300, 200), (40 * k, 90, 200 - 30 * i)).save(path)
            images[panel.id] = path
    doc = editor_document(plan, SMALL, images, base_dir=tmp_path)
    assert all(not p.image.startswith("/") for page in doc.pages for p in page.panels)
    saved = save_editor_json(doc, tmp_path / "comic.editor.json")
    again = load_editor_json(saved)
    assert again == doc
    for index, (_, page) in enumerate(plan.pages()):
        original = compose_page(plan, page, images, SMALL)
        rebuilt = compose_editor_page(again, index, base_dir=tmp_path)
        assert ImageChops.difference(original, rebuilt).getbbox() is None


def test_document_carries_lettering_with_boxes_tails_and_speakers(tmp_path):
    plan = parse_plan(plan_dict(("grid-2x2",)))
    images = {p.id: tmp_path / "x.png" for _, page in plan.pages() for p in page.panels}
    doc = editor_document(plan, SMALL, images)
    kinds = {item.kind for item in doc.pages[0].lettering}
    assert kinds == {"balloon", "caption", "sfx"}
    balloon = next(i for i in doc.pages[0].lettering if i.kind == "balloon")
    assert balloon.speaker == "char-1" and balloon.tail is not None and balloon.box[2] > balloon.box[0]
    assert next(p.box for p in doc.pages[0].panels)[0] == 30


def test_editing_lettering_changes_the_composed_page(tmp_path):
    plan = parse_plan(plan_dict(("single",)))
    path = tmp_path / "p.png"
    Image.new("RGB", (300, 200), (90, 90, 90)).save(path)
    doc = editor_document(plan, SMALL, {plan.chapters[0].pages[0].panels[0].id: path})
    before = compose_editor_page(doc, 0)
    data = json.loads(doc.model_dump_json())
    balloon = next(i for i in data["pages"][0]["lettering"] if i["kind"] == "balloon")
    balloon["box"] = [balloon["box"][0] + 40, balloon["box"][1] + 40, balloon["box"][2] + 40, balloon["box"][3] + 40]
    balloon["text_box"] = [v + 40 for v in balloon["text_box"]]
    moved = compose_editor_page(type(doc).model_validate(data), 0)
    assert ImageChops.difference(before, moved).getbbox() is not None


def test_schema_describes_pages_panels_and_lettering():
    schema = editor_json_schema()
    text = json.dumps(schema)
    for name in ("EditorPage", "EditorPanel", "LetterItem", "tail", "speaker"):
        assert name in text
