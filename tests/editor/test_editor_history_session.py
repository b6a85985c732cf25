"""The editor's undo history and open/save session on their own (no model, no widgets)."""

from __future__ import annotations

from storybench.editor import example_plan
from storybench.editor.history import COALESCE_SECONDS, History, Step
from storybench.editor.session import PlanSession


def test_history_is_bounded_and_coalesces_typing():
    now = [0.0]
    h = History(limit=2, clock=lambda: now[0])
    plans = [example_plan().model_copy(update={"title": f"t{i}"}) for i in range(5)]
    h.record(Step(plans[0], None, "a"), coalesce="field")
    now[0] += COALESCE_SECONDS / 2
    h.record(Step(plans[1], None, "a"), coalesce="field")  # the same field typed again: no new step
    now[0] += COALESCE_SECONDS * 2
    h.record(Step(plans[2], None, "b"), coalesce="field")
    h.record(Step(plans[3], None, "c"))
    back = h.undo(Step(plans[4], None, ""))
    assert back is not None and back.plan.title == "t3"
    assert h.undo(Step(back.plan, None, "")).plan.title == "t2"
    assert h.undo(Step(plans[2], None, "")) is None  # the limit forgot the first step
    assert h.can_redo and h.redo(Step(plans[2], None, "")).plan.title == "t3"  # what the last undo left


def test_session_marks_dirty_and_sees_a_file_changed_on_disk(tmp_path):
    session = PlanSession(tmp_path)
    plan = example_plan()
    path = session.save(plan)
    assert path == tmp_path / f"{plan.id}.json" and not session.is_dirty(plan)
    assert session.is_dirty(plan.model_copy(update={"title": "Other"}))
    assert not session.conflict(path)
    path.write_text(path.read_text(encoding="utf-8").replace(plan.title, "Changed"), encoding="utf-8")
    assert session.conflict(path)  # someone else wrote it
    other = tmp_path / "other.json"
    assert not session.conflict(other)  # nothing there yet
    other.write_text("{}", encoding="utf-8")
    assert session.conflict(other)  # a file this session never read
    assert session.open(path).title == "Changed" and not session.conflict(path)
    assert [p.name for p in session.list_plans()] == ["other.json", f"{plan.id}.json"]
