"""The editor's page preview calls the composition API as agreed (checked with stand-in modules)."""

from __future__ import annotations

import io
import sys
import types

import pytest
from PIL import Image

from storybench.editor import PlanEditorModel, example_plan
from storybench.editor.preview import preview_settings
from storybench.plan import panel_rects
from storybench.prompts.panel import render_size
from storybench.render.spec import RenderResult


@pytest.fixture
def stand_ins(monkeypatch):
    calls = {"render": [], "compose": []}

    class StoryboardBackend:
        def render(self, spec):
            calls["render"].append(spec)
            buf = io.BytesIO()
            Image.new("RGB", (spec.width, spec.height), "gray").save(buf, format="PNG")
            return RenderResult(image=buf.getvalue(), width=spec.width, height=spec.height)

    def compose_page(plan, page, panel_images, settings):
        calls["compose"].append((plan, page, dict(panel_images), settings))
        return Image.new("RGB", (settings.page_width, settings.page_height), "white")

    compose = types.ModuleType("storybench.compose")
    compose.compose_page = compose_page
    storyboard = types.ModuleType("storybench.render.storyboard")
    storyboard.StoryboardBackend = StoryboardBackend
    monkeypatch.setitem(sys.modules, "storybench.compose", compose)
    monkeypatch.setitem(sys.modules, "storybench.render.storyboard", storyboard)
    return calls


def test_preview_renders_each_panel_at_its_rect_size_and_composes(stand_ins, tmp_path):
    m = PlanEditorModel(tmp_path)
    m.set_plan(example_plan())
    image, message = m.page_preview(300)
    assert message == "" and image.size[0] == 300
    settings = preview_settings(300)
    rects = panel_rects(
        "grid-2x2", settings.page_width, settings.page_height, margin=settings.margin, gutter=settings.gutter
    )
    specs = stand_ins["render"]
    assert [s.panel_id for s in specs] == [p.id for p in m.page.panels]
    assert [(s.width, s.height) for s in specs] == [
        render_size(r.width, r.height, settings.panel_max_side) for r in rects
    ]
    _plan, page, images, used = stand_ins["compose"][0]
    assert page.id == "ch1-p1" and set(images) == {p.id for p in page.panels} and used == settings


def test_preview_view_shows_png(stand_ins, tmp_path):
    pytest.importorskip("ipywidgets")
    from storybench.editor.view import PlanEditorView

    m = PlanEditorModel(tmp_path)
    m.set_plan(example_plan())
    v = PlanEditorView(m, debounce=None, preview_width=300)
    v.refresh_preview()
    assert v.preview_image.value[:8] == b"\x89PNG\r\n\x1a\n" and v.preview_message.value == ""
    v.close()


def test_preview_without_composition_gives_a_message(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "storybench.compose", None)  # import fails
    m = PlanEditorModel(tmp_path)
    m.set_plan(example_plan())
    image, message = m.page_preview(300)
    assert image is None and "storybench.compose" in message
