"""The plan editor's questions, warnings, words and Stop (headless)."""

from __future__ import annotations

import json
import threading
import time

import pytest

widgets = pytest.importorskip("ipywidgets")

from scripted_llm import ScriptedLLM  # noqa: E402

from storybench.editor import PlanEditorModel, example_plan  # noqa: E402
from storybench.editor.issues import issue_words  # noqa: E402
from storybench.editor.view import PlanEditorView  # noqa: E402
from storybench.exceptions import PlanIssue  # noqa: E402


def test_layout_change_that_drops_panels_asks_and_cancel_keeps_them(view):
    m = view.model
    view.layout_select.value = "big-top"
    assert m.pending.kind == "drop-panels" and "panel 4" in view.pending_message.value
    assert view.pending_box.layout.display == "flex"
    view.pending_buttons["cancel"].click()
    assert m.page.layout == "grid-2x2" and len(m.page.panels) == 4 and view.layout_select.value == "grid-2x2"
    assert m.pending is None and view.pending_box.layout.display == "none"


def test_layout_change_can_move_the_extra_panels_to_a_new_page(view):
    m = view.model
    pages = len(m.chapter.pages)
    fourth = m.page.panels[3]
    view.layout_select.value = "big-top"
    view.pending_buttons["new_page"].click()
    chapter = m.plan.chapters[0]
    assert len(chapter.pages) == pages + 1 and chapter.pages[0].layout == "big-top"
    moved = chapter.pages[1]
    assert [p.id for p in moved.panels] == [fourth.id] and moved.panels[0].dialogue == fourth.dialogue
    assert [pg.page_number for pg in chapter.pages] == list(range(1, pages + 2))
    assert "new page" in m.status
    assert m.undo() and len(m.plan.chapters[0].pages) == pages and len(m.page.panels) == 4


def test_issues_read_as_words_first(view):
    m = view.model
    plan = m.plan
    words = issue_words(plan, PlanIssue("chapters[0].pages[1].panels[0].action", "The action is empty"))
    assert words == "Page 2, panel 1: the action is empty (chapters[0].pages[1].panels[0].action)"
    line = issue_words(plan, PlanIssue("chapters[0].pages[0].panels[3].dialogue[1].text", "empty line"))
    assert line.startswith("Page 1, panel 4, line 2: empty line")
    char = issue_words(plan, PlanIssue("characters[0].appearance", "too short"))
    assert char.startswith(f"Character “{plan.characters[0].name}”: too short")
    view.page_select.value = 1
    view.panel_select.value = 0
    view.action.value = ""
    assert view.issue_buttons and view.issue_buttons[0].description.startswith("Page 2, panel 1: ")


def test_save_with_issues_warns_and_lists_them_and_status_shows_the_latest_action(view):
    m = view.model
    view.page_select.value = 1
    view.panel_select.value = 0
    view.action.value = ""
    before = m.path.read_text(encoding="utf-8")
    view.save_button.click()
    # issue 24: Save on a plan with problems asks first, the problems in words and places
    assert m.pending.kind == "save-problems" and set(view.pending_buttons) == {"save_anyway", "cancel"}
    assert "Page 2, panel 1: a panel needs an action" in view.pending_message.value
    assert "chapters[" not in view.pending_message.value and "ch1-p2" not in view.pending_message.value
    assert "answer is needed" in view.status.value
    assert m.path.read_text(encoding="utf-8") == before  # nothing written yet
    view.pending_buttons["save_anyway"].click()
    assert "sb-editor-warning" in view.status.value and "issue(s) left" in view.status.value
    assert "Page 2, panel 1" in view.status.value
    saved = json.loads(m.path.read_text(encoding="utf-8"))
    assert saved["chapters"][0]["pages"][1]["panels"][0]["action"] == ""  # saved anyway, with the warning
    view.action.value = "Mara runs"
    assert "sb-editor-warning" not in view.status.value and "saved" not in view.status.value


def test_stop_ends_plan_generation_within_a_second(view):
    started = threading.Event()

    class Slow(ScriptedLLM):
        def _complete_json(self, messages, schema, options):  # type: ignore[override]
            started.set()
            time.sleep(30)  # a long constrained request of a real model
            return super()._complete_json(messages, schema, options)

    m = view.model
    m.save()
    m.llm = Slow()
    view.background = True
    view.prompt.value = "a heist on the moon"
    view.generate_button.click()
    assert started.wait(5)
    assert not view.generate_stop.disabled and view.generate_button.disabled
    clicked = time.monotonic()
    view.generate_stop.click()
    deadline = clicked + 2
    while m.busy or m.generating:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert time.monotonic() - clicked < 1.0
    assert "stopped" in m.error and m.plan.title == example_plan().title  # the plan being edited is kept
    assert view.generate_stop.disabled and not view.generate_button.disabled


def test_generate_tab_says_when_the_builtin_model_writes(tmp_path, monkeypatch):
    monkeypatch.setenv("STORYBENCH_LLM_BACKEND", "llamacpp")
    v = PlanEditorView(PlanEditorModel(tmp_path), debounce=None)
    assert "tiny test model" in v.llm_note.value
    v.llm_name.value = "ollama"
    assert v.llm_note.value == ""
    v.close()


def test_models_import_no_widgets():
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, storybench.editor.model, storybench.story.explorer.model, storybench.ui_kit; "
        "print('ipywidgets' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(root), "PATH": ""},
    )
    assert out.stdout.strip() == "False"
