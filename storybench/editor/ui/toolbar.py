"""The editor's toolbar: plan list, Open, Save, the dirty marker, Undo and Redo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as widgets

from storybench.editor.model import PlanEditorModel
from storybench.editor.ui.base import EditorSection, button, cls, set_options

__all__ = ["Toolbar"]


class Toolbar(EditorSection):
    """Plan list with Open and Save, the saved/unsaved marker, Undo and Redo.

    Save goes through :meth:`~storybench.editor.model.PlanEditorModel.request_save`: a plan
    with problems (or a file changed on disk) asks first.
    """

    depends_on = ("revision", "dirty", "status")

    def __init__(self, model: PlanEditorModel) -> None:
        self.plan_select = cls(
            widgets.Dropdown(
                description="Plan", layout=widgets.Layout(width="auto", flex="1 1 14rem", max_width="24rem")
            ),
            "plan-select",
        )
        self.open_button = button("Open", "open", "folder-open")
        self.save_button = button("Save", "save", "save")
        self.dirty_label = cls(widgets.HTML(), "dirty")
        self.undo_button = button("Undo", "undo", "undo")
        self.redo_button = button("Redo", "redo", "repeat")
        row = widgets.HBox(
            [self.plan_select, self.open_button, self.save_button, self.dirty_label, self.undo_button, self.redo_button]
        )
        super().__init__(model, [row], name="toolbar")
        self._shown_path: Path | None = None
        model.observe(lambda _change: self.refresh_controls(), names=["busy", "generating", "can_undo", "can_redo"])
        self.open_button.on_click(self.clicked(self._open))
        self.save_button.on_click(self.clicked(lambda: self.model.request_save()))
        self.undo_button.on_click(self.clicked(lambda: self.model.undo()))
        self.redo_button.on_click(self.clicked(lambda: self.model.redo()))
        self.update()

    def _open(self) -> Any:
        if self.plan_select.value:
            return self.model.open_plan(Path(self.plan_select.value))
        return None

    def update(self) -> None:
        """Redraw the plan list, the dirty marker and the enabled state of the buttons."""
        m = self.model
        plans = [(p.name, str(p)) for p in m.list_plans()]
        if m.path is not None and str(m.path) not in {v for _, v in plans}:
            plans.append((f"{m.path.name} (new)", str(m.path)))
        with self.writing():
            pick = self.plan_select.value
            if m.path is not None and (m.path != self._shown_path or pick is None):
                pick = str(m.path)  # the writer's pick stays until another plan opens
                self._shown_path = m.path
            set_options(self.plan_select, plans, pick if pick in {v for _, v in plans} else None)
        self._mark_dirty()
        self.refresh_controls()

    def _mark_dirty(self) -> None:
        m = self.model
        n_issues = len(m.issues())
        if m.dirty:
            self.dirty_label.value = "<b style='color:#8a4500'>● unsaved</b>"
        elif n_issues:
            self.dirty_label.value = f"<b style='color:#8a4500'>saved, {n_issues} issue(s)</b>"
        else:
            self.dirty_label.value = "<span style='color:#1b5e20'>saved</span>"

    def action_widgets(self) -> list[widgets.DOMWidget]:
        """Open and Save (disabled while an action runs)."""
        return [self.open_button, self.save_button]

    def refresh_controls(self) -> None:
        """Open and Save follow the busy state; Undo and Redo the history."""
        m = self.model
        busy = m.busy or m.generating
        self.open_button.disabled = busy
        self.save_button.disabled = busy or m.plan is None
        self.undo_button.disabled = not m.can_undo
        self.redo_button.disabled = not m.can_redo
