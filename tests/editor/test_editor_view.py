"""PlanEditorView headless: set widget values, click buttons, assert on the model."""

from __future__ import annotations

import pytest

widgets = pytest.importorskip("ipywidgets")


from storybench.editor import example_plan  # noqa: E402
from storybench.editor.view import CSS_CLASSES  # noqa: E402
from storybench.plan import load_plan, plan_issues, save_plan  # noqa: E402


def test_every_control_has_a_stable_css_class(view):
    for name in (
        "plan-select",
        "save",
        "undo",
        "redo",
        "dirty",
        "layout",
        "panel-action",
        "panel-camera",
        "panel-characters",
        "line-add",
        "character-remove",
        "issues",
        "preview",
        "preset-lighting",
    ):
        assert name in CSS_CLASSES
    assert "sb-editor-save" in view.save_button._dom_classes
    assert "sb-editor-root" in view._dom_classes


def test_form_edits_reach_the_model_and_dirty_marker(view):
    m = view.model
    assert "saved" in view.dirty_label.value and "unsaved" not in view.dirty_label.value
    view.action.value = "Mara kicks the door"
    view.camera.value = "dutch angle"
    view.panel_characters.value = ("char-1", "char-2")
    view.sfx.value = "BAM"
    assert (m.panel.action, m.panel.camera, m.panel.characters, m.panel.sfx) == (
        "Mara kicks the door",
        "dutch angle",
        ["char-1", "char-2"],
        "BAM",
    )
    assert "unsaved" in view.dirty_label.value
    view.save_button.click()
    assert "unsaved" not in view.dirty_label.value
    assert load_plan(m.path).chapters[0].pages[0].panels[0].sfx == "BAM"


def test_layout_change_and_undo_through_widgets(view):
    m = view.model
    view.layout_select.value = "big-top"
    # panel 4 holds dialogue: the editor asks first (issue 11) and keeps the page meanwhile
    assert m.pending is not None and m.pending.kind == "drop-panels" and m.page.layout == "grid-2x2"
    assert set(view.pending_buttons) == {"new_page", "drop", "cancel"}
    view.pending_buttons["drop"].click()
    assert m.page.layout == "big-top" and len(view.panel_select.options) == 3
    assert plan_issues(m.plan) == []
    view.undo_button.click()
    assert m.page.layout == "grid-2x2" and m.page.panels[3].dialogue[1].text == "The clockmaker's."
    assert view.layout_select.value == "grid-2x2"
    view.redo_button.click()
    assert m.page.layout == "big-top"


def test_navigation_and_dialogue_rows(view):
    m = view.model
    view.page_select.value = 0
    view.panel_select.value = 3
    assert m.panel.id == "ch1-p1-pan4"
    assert [r.text.value for r in view.dialogue_box.children] == ["Slow down. Whose body?", "The clockmaker's."]
    view.dialogue_box.children[1].up.click()
    assert [d.text for d in m.panel.dialogue] == ["The clockmaker's.", "Slow down. Whose body?"]
    view.dialogue_box.children[0].speaker.value = "char-1"
    view.dialogue_box.children[0].text.value = "Midnight again."
    assert (m.panel.dialogue[0].character, m.panel.dialogue[0].text) == ("char-1", "Midnight again.")
    view.add_line_button.click()
    assert len(view.dialogue_box.children) == 3 and len(view.issue_buttons) == 1
    view.dialogue_box.children[2].remove.click()
    assert len(m.panel.dialogue) == 2 and view.issue_buttons == []


def test_issue_button_jumps_to_the_place(view):
    m = view.model
    view.page_select.value = 1
    view.panel_select.value = 2
    view.action.value = ""
    assert len(view.issue_buttons) == 1
    view.page_select.value = 0
    view.issue_buttons[0].click()
    assert (m.page_index, m.panel_index, m.focus) == (1, 2, "action")
    assert "sb-editor-focus" in view.action._dom_classes


def test_removing_a_used_character_shows_the_question(view):
    m = view.model
    view.character_select.value = "char-2"
    view.remove_character_button.click()
    assert view.pending_box.layout.display != "none"
    assert set(view.pending_buttons) == {"remove_references", "replace_with:char-1", "cancel"}
    view.pending_buttons["replace_with:char-1"].click()
    assert [c.id for c in m.plan.characters] == ["char-1"] and plan_issues(m.plan) == []
    assert view.pending_box.layout.display == "none"


def test_switching_plans_with_unsaved_changes_offers_save_discard_cancel(view, tmp_path):
    other = save_plan(example_plan().model_copy(update={"id": "other", "title": "Other"}), tmp_path / "other.json")
    view.mood.value = "hopeless"
    view.refresh()  # the plan list now includes other.json
    view.plan_select.value = str(other)
    view.open_button.click()
    assert set(view.pending_buttons) == {"save", "discard", "cancel"}
    view.pending_buttons["discard"].click()
    assert view.model.plan.id == "other"


def test_character_form_and_seed(view):
    m = view.model
    view.add_character_button.click()
    cid = m.character_id
    view.char_name.value = "Olena"
    view.char_role.value = "mentor"
    assert m.plan.character(cid).name == "Olena" and view.character_select.value == cid
    view.char_seed.value = 4242
    view.pin_seed_button.click()
    assert m.plan.character(cid).seed == 4242
    view.new_seed_button.click()
    assert m.plan.character(cid).seed == view.char_seed.value


def test_errors_are_shown_not_raised(view):
    view.char_name.value = ""
    assert "name" in view.error.value
    view.sfx.value = "X" * 100
    assert view.error.value and view.model.panel.sfx is None


def test_presets_shown_and_prompt_updates(view):
    assert "neon" in [v for _, v in view.preset_selects["lighting"].options]
    view.preset_selects["lighting"].value = "moonlight"
    assert "moonlight" in view.enhanced_prompt.value


def test_generate_and_write_dialogue_buttons(view):
    m = view.model
    view.write_dialogue_button.click()  # scripted backend answers from the schema
    assert len(m.panel.dialogue) == 2 and view.error.value == ""
    m.save()
    view.prompt.value = "a heist on the moon"
    view.max_pages.value = 1
    view.generate_button.click()
    assert m.plan.page_count() == 1 and view.progress.value == view.progress.max


def test_refresh_preview_shows_image_or_message(view):
    view.refresh_preview()
    assert view.preview_image.value[:8] == b"\x89PNG\r\n\x1a\n" and view.preview_message.value == ""
