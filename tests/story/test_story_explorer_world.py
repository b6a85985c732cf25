"""The explorer's World section and Context view without a browser: set values, click, assert on the model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from story_fakes import ScriptedLLM

from storybench.llm.base import register_llm_backend
from storybench.plan import load_plan, plan_issues
from storybench.story import load_story
from storybench.story.explorer import ExplorerModel, StoryExplorer
from storybench.world.memory import SemanticMemory

DATA = Path(__file__).resolve().parents[1] / "data" / "sillytavern"


def world_json(tmp_path: Path) -> Path:
    data = {
        "entries": {
            "0": {
                "uid": 0,
                "key": ["lighthouse"],
                "comment": "The lighthouse",
                "content": "The lighthouse has 300 steps.",
            },
            "1": {"uid": 1, "key": ["Marta"], "comment": "Marta", "content": "Marta is the keeper's sister."},
            "2": {"uid": 2, "key": ["dragon"], "comment": "Dragon", "content": "No dragons live here."},
        }
    }
    path = tmp_path / "coast.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


class CoastLLM(ScriptedLLM):
    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("segments", ["Marta waits at the lighthouse.\n\n1. Greet her\n2. Climb up\n3. Leave"])
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


register_llm_backend("coast", CoastLLM)


@pytest.fixture
def view(tmp_path: Path) -> StoryExplorer:
    model = ExplorerModel(llm_backend="coast", image_backend="fakeimg", output_root=str(tmp_path), inline_images=True)
    return StoryExplorer(model)


def test_import_edit_and_context_view(view: StoryExplorer, tmp_path: Path) -> None:
    m = view.model
    view.world.path.value = str(world_json(tmp_path))
    view.world.import_button.click()
    assert m.error == ""
    assert m.world is not None and [e.comment for e in m.world.entries] == ["The lighthouse", "Marta", "Dragon"]
    assert len(view.world.rows) == 3
    enabled, content = view.world.rows[2]
    assert enabled.description == "Dragon" and "sb-story-world-enabled" in enabled._dom_classes
    enabled.value = False  # the writer turns the dragon entry off
    assert m.world.entry(2).enabled is False
    content = view.world.rows[1][1]
    content.value = "Marta is the keeper's sister; she wears a red scarf."
    assert m.world.entry(1).content.endswith("red scarf.")
    view.world.author_note.value = "Keep it eerie."
    view.world.note_depth.value = 0
    view.premise.value = "A keeper on a stormy coast"
    view.language.value = "en"
    view.start.click()
    assert m.error == ""
    story = m.story
    assert story is not None and story.world is not None and story.settings.author_note == "Keep it eerie."
    view.choice_buttons[0].click()
    record = m.context_record()
    assert record is not None
    assert [(f.title, f.reason) for f in record.fired] == [
        ("The lighthouse", "key 'lighthouse'"),
        ("Marta", "key 'Marta'"),
    ]
    html = view.context.view.value
    assert "sb-story-context-tokens" in html and f"Tokens: {record.tokens} of {record.budget}" in html
    assert html.count('class="sb-story-context-fired"') == 2 and "key &#x27;Marta&#x27;" in html
    assert "Keep it eerie." in html and "red scarf" in html
    assert view.context.header.description == "▸ Context"  # folded until the writer opens it
    view.context.header.click()
    assert view.context.expanded and view.context.body.layout.display is None
    # the world and the author's note are saved with the story
    saved = load_story(m.engine.story_path)  # type: ignore[union-attr]
    assert saved.world is not None and saved.world.entry(2).enabled is False
    assert saved.settings.author_note == "Keep it eerie."


def test_upload_a_card_and_a_bad_file(view: StoryExplorer) -> None:
    m = view.model
    card = (DATA / "default_Seraphina.png").read_bytes()
    view.on_upload_world(card, "default_Seraphina.png")
    assert m.error == ""
    assert m.world is not None and [c.name for c in m.world.characters] == ["Seraphina"]
    assert "Seraphina" in view.world.characters.value and len(m.world.entries) > 0
    view.on_upload_world(b"\x89PNG\r\n\x1a\nnot a card", "broken.png")
    assert "broken.png" in m.error
    assert [c.name for c in m.world.characters] == ["Seraphina"]  # nothing half-imported


def test_make_a_comic_of_this_path(view: StoryExplorer, tmp_path: Path) -> None:
    m = view.model
    assert view.comic.button.disabled  # no story yet
    view.world.path.value = str(world_json(tmp_path))
    view.world.import_button.click()
    view.premise.value = "A keeper on a stormy coast"
    view.language.value = "en"
    view.start.click()
    view.choice_buttons[0].click()
    assert not view.comic.button.disabled
    view.comic.button.click()
    assert m.error == ""
    current = m.current
    assert current is not None
    written = Path(m.comic_plan)
    assert written == m.engine.story_dir / f"comic-{current.id}.json"  # type: ignore[union-attr]
    plan = load_plan(written)
    assert plan_issues(plan) == []
    sources = [sid for page in plan.chapters[0].pages for sid in page.source_segments]
    assert sources == [s.id for s in m.story.path()]  # type: ignore[union-attr]  # the whole path, in order
    assert plan.characters and plan.page_count() >= 1
    assert view.comic.link.value.startswith("Comic plan: ") and str(written) in view.comic.link.value
    assert str(written) in m.files


def test_recall_by_meaning_is_a_switch_of_the_world_section(view: StoryExplorer) -> None:
    m = view.model
    view.premise.value = "A keeper on a stormy coast"
    view.start.click()
    assert m.engine is not None and m.engine.memory.semantic is None
    view.world.semantic.value = True
    assert m.semantic_recall and isinstance(m.engine.memory.semantic, SemanticMemory)
    view.world.semantic.value = False
    assert m.engine.memory.semantic is None
