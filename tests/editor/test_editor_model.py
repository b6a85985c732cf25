"""PlanEditorModel without a browser: edits, undo/redo, pending questions, dirty marker, goto."""

from __future__ import annotations

import pytest
from scripted_llm import ScriptedLLM

from storybench.editor import PLACEHOLDER_ACTION, EditRejected, PlanEditorModel, example_plan
from storybench.plan import TEMPLATES, load_plan, plan_issues, save_plan


@pytest.fixture
def model(tmp_path):
    path = save_plan(example_plan(), tmp_path / "rain-on-podil.json")
    m = PlanEditorModel(tmp_path)
    assert m.open_plan(path) is None
    return m


def texts(page):
    return [(p.id, p.action, [(d.character, d.text) for d in p.dialogue], p.narrative, p.sfx) for p in page.panels]


def test_grid_to_big_top_keeps_page_valid_and_undo_restores_the_four_panels(model):
    before = texts(model.page)
    assert model.page.layout == "grid-2x2"
    model.set_layout("big-top")
    page = model.page
    assert page.layout == "big-top" and len(page.panels) == 3
    assert [p.position for p in page.panels] == [1, 2, 3]
    assert plan_issues(model.plan) == []
    assert "ch1-p1-pan4" in model.status and "undo" in model.status.lower()
    assert model.undo()
    assert model.page.layout == "grid-2x2" and texts(model.page) == before
    assert model.redo() and len(model.page.panels) == 3
    assert model.undo() and texts(model.page) == before


def test_shrinking_prefers_dropping_empty_panels(model):
    model.set_layout("action")  # 4 -> 5: a placeholder panel is added
    assert len(model.page.panels) == 5 and model.page.panels[4].action == PLACEHOLDER_ACTION
    assert plan_issues(model.plan) == []
    model.select(panel=1)
    model.set_layout("grid-2x2")
    assert [p.id for p in model.page.panels] == ["ch1-p1-pan1", "ch1-p1-pan2", "ch1-p1-pan3", "ch1-p1-pan4"]


def test_removing_a_used_character_asks_first(model):
    pending = model.remove_character("char-2")
    assert pending is model.pending and pending.kind == "character-in-use"
    assert "replace_with:char-1" in pending.choices and "remove_references" in pending.choices
    assert any(c.id == "char-2" for c in model.plan.characters)  # nothing happened yet
    model.resolve("replace_with:char-1")
    assert model.pending is None
    assert [c.id for c in model.plan.characters] == ["char-1"]
    assert plan_issues(model.plan) == []
    p1 = model.plan.chapters[0].pages[0]
    assert p1.panels[3].characters == ["char-1"]
    assert [d.character for d in p1.panels[3].dialogue] == ["char-1", "char-1"]
    assert p1.panels[2].dialogue[0].text == "Detective! They found the body."


def test_removing_references_deletes_lines_and_undo_brings_them_back(model):
    model.remove_character("char-2", on_used="remove_references")
    assert plan_issues(model.plan) == []
    assert all("char-2" not in p.characters for _, pg in model.plan.pages() for p in pg.panels)
    assert model.character_usage("char-1")  # the other character is untouched
    assert "dialogue line(s) deleted" in model.status
    model.undo()
    assert model.character_usage("char-2")


def test_cancel_and_unused_character(model):
    model.remove_character("char-2")
    model.resolve("cancel")
    assert len(model.plan.characters) == 2
    cid = model.add_character("Nobody", appearance="grey ghost")
    assert model.remove_character(cid) is None and len(model.plan.characters) == 2
    with pytest.raises(EditRejected):
        model.resolve("cancel")
    with pytest.raises(EditRejected):
        model.remove_character("char-1", on_used="replace_with:char-1")


def test_character_edits_and_seeds(model):
    cid = model.add_character("Olena", appearance="old woman", role="mentor")
    assert cid == "char-3" and model.character_id == cid
    c = model.plan.character(cid)
    assert c.seed is not None
    model.update_character(cid, clothing="black shawl", name="Olena K.")
    c = model.plan.character(cid)  # edits are pure: the plan (and its characters) are new objects
    assert (c.clothing, c.name) == ("black shawl", "Olena K.")
    old = c.seed
    new = model.regenerate_seed(cid)
    assert model.plan.character(cid).seed == new and new != old
    model.pin_seed(cid, 1234)
    assert model.plan.character(cid).seed == 1234
    with pytest.raises(EditRejected):
        model.pin_seed(cid, -1)
    assert model.plan.character(cid).seed == 1234  # rejected edits leave the plan as it was
    with pytest.raises(EditRejected):
        model.update_character(cid, name=" ")
    with pytest.raises(EditRejected):
        model.update_character(cid, seed=3)


def test_reorder_panels_pages_and_lines(model):
    model.select(panel=0)
    model.move_panel(+2)
    assert [p.id for p in model.page.panels] == ["ch1-p1-pan2", "ch1-p1-pan3", "ch1-p1-pan1", "ch1-p1-pan4"]
    assert [p.position for p in model.page.panels] == [1, 2, 3, 4] and model.panel_index == 2
    model.select(page=1)
    model.move_page(-1)
    assert [(p.id, p.page_number) for _, p in model.plan.pages()] == [("ch1-p2", 1), ("ch1-p1", 2)]
    with pytest.raises(EditRejected):
        model.move_page(-1)
    model.select(page=1, panel=3)
    model.move_line(0, +1)
    assert [d.text for d in model.panel.dialogue] == ["The clockmaker's.", "Slow down. Whose body?"]
    assert plan_issues(model.plan) == []


def test_pages_and_chapters(model):
    model.add_page("three-rows")
    assert model.page.page_number == 2 and len(model.page.panels) == 3
    assert [p.page_number for _, p in model.plan.pages()] == [1, 2, 3]
    model.add_chapter("Part two")
    assert len(model.plan.chapters) == 2 and model.chapter.title == "Part two"
    with pytest.raises(EditRejected):  # the new chapter's only page cannot leave it
        model.move_page(-1)
    model.add_page("single")
    model.move_page(-1)
    model.move_page(-1)  # crosses into chapter 1, as its last page
    assert (model.chapter_index, model.page_index, model.page.page_number) == (0, 3, 4)
    assert [len(c.pages) for c in model.plan.chapters] == [4, 1]
    assert plan_issues(model.plan) == []
    model.select(chapter=0, page=0)
    model.remove_page()
    assert [p.page_number for _, p in model.plan.pages()] == [1, 2, 3, 4]
    assert plan_issues(model.plan) == []


def test_moving_the_only_page_of_a_chapter_is_refused(model):
    model.add_chapter("Part two")
    with pytest.raises(EditRejected, match="empty"):
        model.move_page(-1)
    assert plan_issues(model.plan) == []


def test_add_and_remove_panel_switch_layout(model):
    model.select(page=1)  # big-top, 3 panels
    model.add_panel()
    assert len(model.page.panels) == 4 and TEMPLATES[model.page.layout].panel_count == 4
    model.remove_panel()
    model.remove_panel()
    model.remove_panel()
    assert model.page.layout == "single"
    with pytest.raises(EditRejected):
        model.remove_panel()
    assert plan_issues(model.plan) == []


def test_panel_form_fields_and_validation(model):
    model.update_panel(
        action="Mara draws her gun", camera="low angle", narrative="", sfx="CLICK", characters=["char-1", "char-2"]
    )
    pan = model.panel
    assert (pan.action, pan.camera, pan.narrative, pan.sfx) == ("Mara draws her gun", "low angle", None, "CLICK")
    with pytest.raises(EditRejected, match="unknown character"):
        model.update_panel(characters=["ghost"])
    with pytest.raises(EditRejected):
        model.update_panel(sfx="X" * 100)
    assert model.panel.sfx == "CLICK"
    i = model.add_line()
    assert model.panel.dialogue[i].character == "char-1"
    issues = model.issues()
    assert [x.path for x in issues] == ["chapters[0].pages[0].panels[0].dialogue[0].text"]
    model.update_line(i, text="Freeze!", speaker="char-2")
    assert model.issues() == [] and model.panel.dialogue[i].character == "char-2"
    model.remove_line(i)
    assert model.panel.dialogue == []


def test_goto_selects_the_place_of_an_issue(model):
    model.select(page=1, panel=2)
    model.update_panel(action="")
    issue = model.issues()[0]
    model.select(page=0, panel=0)
    focus = model.goto(issue.path)
    assert (model.page_index, model.panel_index, focus) == (1, 2, "action")
    assert model.goto("characters[1].name") == "name" and model.character_id == "char-2"
    with pytest.raises(EditRejected):
        model.goto("chapters[9].pages[0]")


def test_dirty_marker_and_save(model, tmp_path):
    assert not model.dirty
    model.update_panel(mood="calm")
    assert model.dirty
    model.undo()
    assert not model.dirty  # back to what is on disk
    model.update_panel(mood="calm")
    path = model.save()
    assert not model.dirty and load_plan(path).chapters[0].pages[0].panels[0].mood == "calm"


def test_switching_plans_with_unsaved_changes_asks(model, tmp_path):
    other = example_plan().model_copy(update={"id": "other", "title": "Other"})
    other_path = save_plan(other, tmp_path / "other.json")
    model.update_panel(mood="calm")
    pending = model.open_plan(other_path)
    assert pending.kind == "unsaved" and pending.choices == ("save", "discard", "cancel")
    model.resolve("cancel")
    assert model.plan.id == "rain-on-podil" and model.dirty
    model.open_plan(other_path)
    model.resolve("save")
    assert model.plan.id == "other"
    assert load_plan(tmp_path / "rain-on-podil.json").chapters[0].pages[0].panels[0].mood == "calm"
    model.update_panel(mood="x")
    model.open_plan(tmp_path / "rain-on-podil.json")
    model.resolve("discard")
    assert model.plan.id == "rain-on-podil"
    assert load_plan(other_path).chapters[0].pages[0].panels[0].mood == "tense"
    assert [p.name for p in model.list_plans()] == ["other.json", "rain-on-podil.json"]


def test_undo_history_is_bounded(tmp_path):
    m = PlanEditorModel(tmp_path, history=3)
    m.set_plan(example_plan())
    for k in range(6):
        m.select(panel=k % 4)
        m.update_panel(mood=f"m{k}")
    assert sum(m.undo() for _ in range(10)) == 3


def test_typing_in_one_field_coalesces_into_one_undo_step(model):
    for text in ("M", "Ma", "Mara"):
        model.update_panel(action=text)
    model.undo()
    assert model.panel.action == "rain pours over an empty alley lit by one lamp"


def test_generate_from_prompt_with_progress(tmp_path):
    events = []
    m = PlanEditorModel(tmp_path, llm=ScriptedLLM())
    assert m.generate("a ghost story", max_pages=3, on_progress=events.append) is None
    assert m.plan is not None and plan_issues(m.plan) == [] and m.dirty
    assert events[-1].stage == "done" and m.path.parent == tmp_path
    assert "planned" in m.status


def test_observers_hear_events(model):
    seen = []
    model.on_event(seen.append)
    model.update_panel(mood="x")
    model.select(panel=1)
    model.set_layout("big-top")
    assert seen[:2] == ["edit", "selection"] and "plan" in seen
    model.off_event(seen.append)


def test_write_panel_dialogue_and_enhanced_prompt(model):
    model.llm = ScriptedLLM([{"lines": [{"speaker": "char-1", "text": "Who's there?"}]}])
    model.select(panel=1)
    assert model.write_panel_dialogue("confession", 1) == 1
    assert model.panel.dialogue[-1].text == "Who's there?"
    model.undo()
    assert model.panel.dialogue == []
    enhanced = model.enhanced_prompt(lighting="moonlight")
    assert "Mara lights a cigarette" in enhanced.prompt and "moonlight" in enhanced.prompt


def test_page_preview_never_raises(model):
    image, message = model.page_preview(300)
    assert message == "" and image.size[0] == 300  # composition and the storyboard renderer are installed
    model.plan = model.plan.model_copy(update={"style": "no-such-style"})
    image, message = model.page_preview(300)
    assert image is None and message.startswith("page preview failed")
