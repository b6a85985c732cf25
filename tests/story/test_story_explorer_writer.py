"""The explorer as a writer meets it (issue 24), headless: failures keep the story, questions in
view, a library of stories, titles, every file listed, accessible controls."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as w
import pytest
from story_fakes import ScriptedLLM

from storybench.exceptions import TransientBackendError
from storybench.llm.base import register_llm_backend
from storybench.story.explorer import ExplorerModel, StoryExplorer
from storybench.story.library import list_stories
from storybench.story.titles import clean_title
from storybench.ui_kit.collapsible import Collapsible
from storybench.ui_kit.links import file_link, running_server
from storybench.ui_kit.pending import Pending
from storybench.ui_kit.question_view import QuestionView, answer_needed_status

EN = "The keeper lights the lamp.\n\n1. Wait for the ship\n2. Go down to the sea\n3. Write a letter"


def explorer(tmp_path: Path, **kw: object) -> StoryExplorer:
    kw.setdefault("background", False)
    kw.setdefault("prefetch", False)
    kw.setdefault("llm_backend", "scripted")
    model = ExplorerModel(image_backend="fakeimg", output_root=str(tmp_path / "stories"), inline_images=True, **kw)
    return StoryExplorer(model, models=[])


def start(view: StoryExplorer, premise: str = "The lighthouse keeper waits for a ship") -> None:
    view.premise.value = premise
    view.start.click()
    assert view.model.error == "", view.model.error


def shown(view: StoryExplorer) -> tuple[str, list[str], int]:
    return view.text.value, [b.description for b in view.choice_buttons], len(view.node_buttons)


def test_a_failed_start_keeps_the_story_on_screen(tmp_path: Path) -> None:
    view = explorer(tmp_path)
    start(view)
    before, story = shown(view), view.model.story
    view.model.llm_backend = "no-such-llm"
    view.premise.value = "Another story"
    view.start.click()
    assert view.model.error.startswith("Start failed: unknown LLM backend 'no-such-llm'")
    assert "the story on screen is kept" in view.model.error and "role='alert'" in view.alert.value
    assert view.model.story is story and shown(view) == before
    assert not view.save.disabled and not view.export.disabled and not view.regenerate.disabled


def test_a_failed_regenerate_and_load_keep_the_story(tmp_path: Path) -> None:
    class Flaky(ScriptedLLM):
        fail = False

        def _stream(self, messages, options):  # type: ignore[override]
            if self.fail and self.kind(messages) == "segment":
                yield "Half a sen"
                raise TransientBackendError("flaky", "connection reset")
            yield from super()._stream(messages, options)

    llm = Flaky()
    register_llm_backend("flaky", lambda **kw: llm)
    view = explorer(tmp_path, llm_backend="flaky")
    start(view)
    before = shown(view)
    llm.fail = True
    view.regenerate.click()
    assert view.model.error.startswith("Regenerate failed:") and "connection reset" in view.model.error
    assert shown(view) == before and "Half a sen" not in view.text.value
    view.path.value = str(tmp_path / "nothing-here" / "story.json")
    view.load.click()
    assert view.model.error.startswith("Load failed:") and "unchanged" in view.model.error
    assert shown(view) == before


def test_the_overwrite_question_opens_focused_and_the_status_asks_for_an_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = explorer(tmp_path)
    start(a)
    a.save.click()
    path_a = Path(a.path.value)
    b = explorer(tmp_path)
    start(b, "A robot learns to paint the sea")
    b.path.value = str(path_a)
    b.save.click()
    assert b.pending_box.layout.display == "flex" and "role='alert'" in b.pending_message.value
    # the browser is asked once to focus the first answer (it scrolls it into view); the request
    # sits in the question box, after the answers (the browser test checks where the focus lands)
    assert b.question.focuser.request == 1 and list(b.pending_box.children)[-1] is b.question.focuser
    assert next(c.description for c in b.pending_box.children if isinstance(c, w.Button)) == "Overwrite"
    assert "an answer is needed" in b.status.value and "Saved to" not in b.status.value
    children = list(b.children)
    assert children.index(b.question) == children.index(b.files) - 1  # right above the file actions
    b.pending_buttons["cancel"].click()
    assert b.pending_box.layout.display == "none" and "Not saved" in b.status.value


def test_the_library_lists_saved_stories_and_opens_one(tmp_path: Path) -> None:
    view = explorer(tmp_path)
    start(view)
    view.save.click()
    start(view, "A robot learns to paint the sea")
    view.save.click()
    entries = list_stories(tmp_path / "stories")
    assert [e.premise for e in entries] == ["A robot learns to paint the sea", "The lighthouse keeper waits for a ship"]
    assert all(e.segments == 1 for e in entries)
    view.library.header.click()  # opening the section lists the stories again
    assert [b.description.split(" — ")[1].split(" · ")[0] for b in view.library.buttons] == [e.premise for e in entries]
    view.library.buttons[1].click()
    assert view.model.error == "" and view.model.story.settings.premise.startswith("The lighthouse keeper")


def test_the_llm_writes_the_title_and_the_writer_can_edit_it(tmp_path: Path) -> None:
    view = explorer(tmp_path, titles=True)
    start(view)
    assert view.model.story.title == "Маяк, що чекає" == view.title.value
    view.title.value = "The Last Lamp"
    assert view.model.story.settings.title == "The Last Lamp"
    view.save.click()
    assert list_stories(tmp_path / "stories")[0].title == "The Last Lamp"


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ('"The Keeper of the Lamp."', "The Keeper of the Lamp"),
        ("Title: **Маяк**", "Маяк"),
        ("one two three four five six seven eight nine ten", "one two three four five six seven"),
        ("Lighthouse keeper: The lighthouse keeper, the one who", "Lighthouse keeper"),
        ("Dune: A novel", "Dune: A novel"),
        ("lamp lamp lamp", ""),
        ("!!! 123", ""),
    ],
)
def test_titles_are_cleaned(raw: str, title: str) -> None:
    assert clean_title(raw) == title


def test_every_file_of_the_story_is_listed(tmp_path: Path) -> None:
    view = explorer(tmp_path)
    start(view)
    view.save.click()
    for kind in ("twee", "html"):
        view.export_kind.value = kind
        view.export.click()
    names = [Path(f).name for f in view.model.files]
    assert names == ["story.json", "story.twee", "story.html"]
    assert all(n in view.files.file_list.value for n in names)


def test_controls_have_accessible_names_and_sections_are_buttons(tmp_path: Path) -> None:
    view = explorer(tmp_path)
    start(view)
    for control in (view.premise, view.path, view.export_kind, view.language, view.title):
        assert control.description  # rendered as a <label for=...> of the input
    assert isinstance(view.settings, Collapsible) and not view.settings.expanded  # folded after Start
    assert "sb-collapse-closed" in view.settings.header._dom_classes
    view.settings.header.click()
    assert view.settings.expanded and "sb-collapse-open" in view.settings.header._dom_classes
    assert view.settings.body.layout.display is None
    current = [b for b in view.node_buttons if "sb-story-node-current" in b._dom_classes]
    assert current[0].tooltip.startswith("Current segment:")
    assert "alt='" in view.image.value and "alt=''" not in view.image.value


def test_question_view_alone() -> None:
    answers: list[str] = []
    view = QuestionView(on_answer=answers.append, prefix="sb-editor", focus=False)
    p = Pending("drop-panels", "Drop panel 4?", ("drop", "cancel"), {"drop": "Drop it"})
    view.show(p)
    assert [b.description for b in view.buttons.values()] == ["Drop it", "cancel"]
    assert "sb-editor-pending-drop" in view.buttons["drop"]._dom_classes
    view.buttons["drop"].click()
    assert answers == ["drop"]
    assert answer_needed_status(p) == "An answer is needed: Drop panel 4? (Drop it / cancel)"
    view.show(None)
    assert view.layout.display == "none" and view.buttons == {}
    with pytest.raises(ValueError, match="not an answer"):
        p.check("keep")


def test_links_find_the_root_of_the_running_server(tmp_path: Path) -> None:
    notebooks = tmp_path / "repo" / "notebooks"
    notebooks.mkdir(parents=True)
    servers = [
        {"root_dir": str(tmp_path), "base_url": "/other/"},
        {"root_dir": str(tmp_path / "repo"), "base_url": "/lab-base/"},
        {"root_dir": str(tmp_path / "elsewhere"), "base_url": "/x/"},
    ]
    info = running_server(notebooks, lambda: servers)
    assert info is not None and info["base_url"] == "/lab-base/"
    link = file_link(tmp_path / "repo" / "outputs" / "story.json", root=tmp_path / "repo")
    assert "href='/" in link and "lab/tree/outputs/story.json" in link
