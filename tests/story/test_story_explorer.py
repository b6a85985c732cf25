"""The story explorer without a browser: set widget values, click, assert on the model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ipywidgets as w
import pytest
from story_fakes import SEGMENTS_UK, ScriptedLLM

from storybench.llm.base import register_llm_backend
from storybench.story import load_story
from storybench.story.explorer import ExplorerModel, StoryExplorer


@pytest.fixture
def view(tmp_path: Path) -> StoryExplorer:
    model = ExplorerModel(
        llm_backend="scripted", image_backend="fakeimg", output_root=str(tmp_path), inline_images=True
    )
    return StoryExplorer(model)


def start(view: StoryExplorer, premise: str = "Старий маяк на краю світу", language: str = "uk") -> None:
    view.premise.value = premise
    view.language.value = language
    view.style.value = "watercolor"
    view.start.click()


def test_model_has_no_widget_import() -> None:
    code = "import sys, storybench.story.explorer.model as m; m.ExplorerModel(); print('ipywidgets' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PATH": ""},
    )
    assert out.stdout.strip() == "False"


def test_widgets_are_linked_to_the_model(view: StoryExplorer) -> None:
    view.premise.value = "A robot learns to paint"
    view.language.value = "ru"
    view.style.value = "cyberpunk"
    m = view.model
    assert (m.premise, m.language, m.style) == ("A robot learns to paint", "ru", "cyberpunk")
    assert m.llm_backend == view.llm.value == "scripted" and "scripted" in view.llm.options
    assert view.image_backend.value == "fakeimg"
    assert ExplorerModel().llm_backend == "llamacpp" and ExplorerModel().image_backend == "storyboard"


def test_start_choose_back_regenerate_goto(view: StoryExplorer) -> None:
    start(view)
    m = view.model
    assert m.error == ""
    story = m.story
    assert story.settings.language == "uk" and story.settings.style == "watercolor"
    assert [b.description for b in view.choice_buttons] == [
        "1. Відкрити лист",
        "2. Піднятися вище",
        "3. Повернутися до човна",
    ]
    assert "Туман огорнув" in view.text.value and "Відкрити лист" not in view.text.value
    assert view.image.value.startswith("<img src='data:image/png;base64,")
    assert view.back.disabled and not view.regenerate.disabled

    view.choice_buttons[1].click()
    assert m.current.choice_text == "Піднятися вище" and not view.back.disabled
    view.back.click()
    assert m.current.id == "s001"
    view.choice_buttons[0].click()
    second = m.current.id
    view.regenerate.click()
    assert len(story.segments) == 4 and m.current.id != second
    assert {s.id for s in story.children_for("s001", 0)} == {second, m.current.id}
    # the branch tree: one node per segment, current path highlighted, click to jump
    assert len(view.node_buttons) == 4
    current = [b for b in view.node_buttons if "sb-story-node-current" in b._dom_classes]
    assert len(current) == 1 and current[0].description.startswith(m.current.id)
    on_path = [b.description.split(" ")[0] for b in view.node_buttons if "sb-story-node-path" in b._dom_classes]
    assert on_path == [s.id for s in story.path()]
    target = next(b for b in view.node_buttons if b.description.startswith(second))
    target.click()
    assert m.current.id == second


def test_text_streams_into_the_view_and_buttons_are_busy(tmp_path: Path) -> None:
    seen: list[tuple[str, bool, bool]] = []

    class Watching(ScriptedLLM):
        view: StoryExplorer | None = None

        def _stream(self, messages, options):  # type: ignore[override]
            for chunk in super()._stream(messages, options):
                if self.view is not None:
                    seen.append((self.view.text.value, self.view.start.disabled, self.view.model.busy))
                yield chunk

    llm = Watching()
    register_llm_backend("watching", lambda **kw: llm)
    view = StoryExplorer(
        ExplorerModel(llm_backend="watching", image_backend="fakeimg", output_root=str(tmp_path), inline_images=True)
    )
    llm.view = view
    start(view)
    assert len(seen) > 10
    assert all(disabled and busy for _, disabled, busy in seen)
    texts = [t for t, _, _ in seen if t]
    assert len(set(texts)) > 5 and all(t.endswith("▍</span>") for t in texts)  # grows per chunk, with a cursor
    assert not view.start.disabled and not view.model.busy


def test_errors_show_in_the_alert_not_as_tracebacks(view: StoryExplorer) -> None:
    view.premise.value = "   "
    view.start.click()
    assert "premise" in view.model.error and "sb-story-error" in view.alert.value
    assert "Traceback" not in view.alert.value
    view.model.llm_backend = "no-such-llm"
    view.premise.value = "A story"
    view.start.click()
    assert "unknown LLM backend 'no-such-llm'" in view.model.error
    view.model.llm_backend = "scripted"
    view.start.click()
    assert view.model.error == "" and view.alert.value == ""
    view.path.value = ""
    view.load.click()
    assert "path" in view.model.error


def test_failed_image_shows_and_retry_works(tmp_path: Path) -> None:
    from story_fakes import FakeImageBackend

    backend = FakeImageBackend(fail_first=1, message="out of VRAM")
    view = StoryExplorer(
        ExplorerModel(llm_backend="scripted", image_backend="flaky", output_root=str(tmp_path), inline_images=True)
    )
    from storybench.render.base import register_image_backend

    register_image_backend("flaky", lambda **kw: backend)
    start(view)
    assert view.model.current.image_status == "failed"
    assert "out of VRAM" in view.image.value and not view.retry_image.disabled
    assert view.choice_buttons  # the story goes on
    view.retry_image.click()
    assert view.model.current.image_status == "done" and "<img" in view.image.value and view.retry_image.disabled


def test_save_load_export(view: StoryExplorer, tmp_path: Path) -> None:
    start(view)
    view.choice_buttons[0].click()
    target = tmp_path / "saved" / "story.json"
    view.path.value = str(target)
    view.save.click()
    assert view.model.error == "" and "Saved to" in view.status.value
    saved = load_story(target)
    assert saved.segments.keys() == view.model.story.segments.keys()
    for kind, ext in (("twee", "twee"), ("markdown", "md"), ("html", "html"), ("epub", "epub")):
        view.export_kind.value = kind
        view.export.click()
        assert (view.model.engine.story_dir / f"story.{ext}").is_file()

    other = StoryExplorer(ExplorerModel(llm_backend="scripted", image_backend="fakeimg", inline_images=True))
    other.path.value = str(view.model.engine.story_path)
    other.load.click()
    assert other.model.error == ""
    assert other.model.story == view.model.story and other.model.story is not view.model.story
    assert other.premise.value == "Старий маяк на краю світу" and other.language.value == "uk"
    assert len(other.choice_buttons) == len(view.model.current.choices)
    assert "<img" in other.image.value  # images found in the loaded story's folder


def test_two_explorers_do_not_share_state(tmp_path: Path) -> None:
    a = StoryExplorer(
        ExplorerModel(llm_backend="scripted", image_backend="fakeimg", output_root=str(tmp_path), inline_images=True)
    )
    b = StoryExplorer(
        ExplorerModel(llm_backend="scripted", image_backend="fakeimg", output_root=str(tmp_path), inline_images=True)
    )
    start(a)
    a.choice_buttons[0].click()
    assert b.model.story is None and b.choice_buttons == [] and b.regenerate.disabled
    start(b, premise="Нічне місто")
    assert a.model.story.id != b.model.story.id
    assert len(a.model.story.segments) == 2 and len(b.model.story.segments) == 1


def _all_widgets(root: w.Widget) -> list[w.Widget]:
    out = [root]
    for child in getattr(root, "children", ()):
        out.extend(_all_widgets(child))
    return out


def test_every_widget_has_an_sb_class(view: StoryExplorer) -> None:
    start(view)
    for widget in _all_widgets(view):
        assert any(c.startswith("sb-") for c in widget._dom_classes), widget
    for name in ("premise", "start", "back", "regenerate", "save", "load", "export", "alert", "text", "image"):
        assert f"sb-story-{name}" in getattr(view, name)._dom_classes
    assert all("sb-story-choice" in b._dom_classes for b in view.choice_buttons)


def test_the_scripted_llm_story_is_ukrainian_on_screen(view: StoryExplorer) -> None:
    # was a test of the fixture itself (and of json.loads); now: the Ukrainian opening is what shows
    start(view)
    first = SEGMENTS_UK[0].split("\n\n")[0]
    assert view.text.value.startswith(f"<p>{first[:40]}") and view.model.story.settings.language == "uk"


def test_background_image_replaces_the_spinner(tmp_path: Path) -> None:
    import threading

    from story_fakes import FakeImageBackend

    from storybench.render.base import register_image_backend

    gate = threading.Event()

    class Gated(FakeImageBackend):
        def render(self, spec):  # type: ignore[override]
            assert gate.wait(10)
            return super().render(spec)

    register_image_backend("gated", lambda **kw: Gated())
    view = StoryExplorer(ExplorerModel(llm_backend="scripted", image_backend="gated", output_root=str(tmp_path)))
    start(view)
    assert "sb-story-spinner" in view.image.value and view.choice_buttons  # text and choices first
    gate.set()
    assert view.model.engine.wait_images(10)
    assert view.image.value.startswith("<img src='data:image/png;base64,")
    view.model.close()
