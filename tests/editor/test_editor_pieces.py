"""The editor's pieces: the typed plan path, pure edits, Save that asks, a refused edit that
restores its field, questions beside their control, the preview's text alternative."""

from __future__ import annotations

import pytest

widgets = pytest.importorskip("ipywidgets")


from storybench.editor import example_plan  # noqa: E402
from storybench.plan import edits  # noqa: E402
from storybench.plan.paths import PlanPath  # noqa: E402


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("chapters[0].pages[1].panels[2].dialogue[0].text", PlanPath(0, 1, 2, 0, field="text")),
        ("chapters[0].pages[1].panels[2].dialogue[3]", PlanPath(0, 1, 2, 3)),
        ("chapters[0].pages[1].panels[2].action", PlanPath(0, 1, 2, field="action")),
        ("chapters[0].pages[1].panels[2].characters[1]", PlanPath(0, 1, 2, field="characters[1]")),
        ("chapters[0].pages[1].pageNumber", PlanPath(0, 1, field="pageNumber")),
        ("chapters[2]", PlanPath(2)),
        ("characters[1].name", PlanPath(character=1, field="name")),
        ("style", PlanPath(field="style")),
    ],
)
def test_plan_path_reads_and_writes_one_grammar(text, expected):
    assert PlanPath.parse(text) == expected
    assert str(expected) == text  # the printed text is unchanged


def test_plan_path_names_what_is_below_the_selection():
    assert PlanPath.parse("chapters[0].pages[1].panels[2].dialogue[0].text").below_panel == "dialogue[0].text"
    assert PlanPath.parse("chapters[0].pages[1].panels[2].action").head == "action"
    assert PlanPath.of_panel(0, 1, 2).dialogue(3).at("text") == PlanPath(0, 1, 2, 3, field="text")


def test_edits_are_pure_and_speak_in_words():
    plan = example_plan()
    before = plan.sha256()
    edited = edits.remove_panel(plan, PlanPath.of_panel(0, 0, 3))
    assert plan.sha256() == before and len(plan.chapters[0].pages[0].panels) == 4  # the argument is untouched
    assert len(edited.plan.chapters[0].pages[0].panels) == 3 and edited.plan.chapters[0].pages[0].layout != "grid-2x2"
    assert "removed panel 4 of page 1" in edited.note and "ch1-" not in edited.note
    single = edits.set_layout(plan, PlanPath.of_panel(0, 0, 0), "single")
    assert "moved panel 2" in single.note and "Undo restores them" in single.note
    with pytest.raises(edits.EditRejected, match="at least one panel"):
        edits.remove_panel(single.plan, PlanPath.of_panel(0, 0, 0))


def test_save_with_problems_asks_and_cancel_writes_nothing(view):
    m = view.model
    view.page_select.value = 1
    view.panel_select.value = 0
    view.action.value = ""
    on_disk = m.path.read_text(encoding="utf-8")
    view.save_button.click()
    assert m.pending.kind == "save-problems"
    assert view.question_slot.children == (view.pending_box,)  # under the toolbar, where Save is
    assert "Page 2, panel 1: a panel needs an action" in view.pending_message.value
    assert "answer is needed" in view.status.value.lower()
    view.pending_buttons["cancel"].click()
    assert m.path.read_text(encoding="utf-8") == on_disk and m.dirty and m.pending is None


def test_save_over_a_file_changed_on_disk_asks(view):
    m = view.model
    view.mood.value = "calm"
    m.path.write_text(m.path.read_text(encoding="utf-8").replace("Rain on Podil", "Someone else's"), encoding="utf-8")
    view.save_button.click()
    assert m.pending.kind == "overwrite-plan" and set(view.pending_buttons) == {"overwrite", "cancel"}
    assert "Someone else's" in m.path.read_text(encoding="utf-8")
    view.pending_buttons["overwrite"].click()
    assert "Someone else's" not in m.path.read_text(encoding="utf-8") and not m.dirty


def test_a_refused_edit_restores_the_field(view):
    m = view.model
    view.character_select.value = "char-1"
    name = m.plan.character("char-1").name
    view.char_name.value = ""
    assert "name" in view.error.value and "role='alert'" in view.error.value
    assert view.char_name.value == name and m.plan.character("char-1").name == name
    view.sfx.value = "X" * 100
    assert view.error.value and view.sfx.value == "" and m.panel.sfx is None


def test_questions_open_beside_the_control_that_asked(view):
    view.layout_select.value = "big-top"
    assert view.navigator.question_slot.children == (view.pending_box,)
    assert view.question_slot.children == () and view.characters.question_slot.children == ()
    view.pending_buttons["cancel"].click()
    view.character_select.value = "char-2"
    view.tabs.selected_index = 0
    view.remove_character_button.click()
    assert view.characters.question_slot.children == (view.pending_box,) and view.tabs.selected_index == 1
    assert view.pending_box.layout.display == "flex"


def test_status_names_places_not_ids(view):
    m = view.model
    view.panel_select.value = 3
    view.remove_panel_button.click()
    assert "panel 4 of page 1" in m.status and "ch1-p1-pan4" not in m.status


def test_every_control_has_an_accessible_name(view):
    view.page_select.value = 0
    view.panel_select.value = 3
    for row in view.line_rows[:2]:
        assert row.speaker.description and row.text.description
        for b in (row.up, row.down, row.remove):
            assert b.tooltip  # an icon-only button is named by its title
    for name in ("page_up_button", "page_down_button", "panel_up_button", "panel_down_button"):
        assert getattr(view, name).tooltip
    for b in view.navigator.children[0].children:
        if isinstance(b, widgets.Button):
            assert b.description and not b.tooltip  # no tooltip repeating the label


def test_preview_text_alternative_is_the_page_lettering_and_full_size_opens(view):
    view.page_select.value = 0
    view.refresh_preview()
    assert view.preview_image.value[:4] == b"\x89PNG", view.preview_message.value
    assert "Slow down. Whose body?" in view.preview_image.tooltip
    view.enlarge_button.click()
    assert view.preview.full_view.layout.display == "flex" and view.preview.full_image.value[:4] == b"\x89PNG"
    assert view.preview.full_image.tooltip == view.preview_image.tooltip
    view.close_full_button.click()
    assert view.preview.full_view.layout.display == "none"
    assert "Mara" in view.model.page_lettering() and "Slow down. Whose body?" in view.model.page_lettering()
