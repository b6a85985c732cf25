"""The issue list: one button per problem (words first), a click goes to its place."""

from __future__ import annotations

from functools import partial

import ipywidgets as widgets

from storybench.editor.issues import issue_words
from storybench.editor.model import PlanEditorModel
from storybench.editor.ui.base import EditorSection, button, cls

__all__ = ["IssueList"]


class IssueList(EditorSection):
    """Plan issues and lettering warnings as buttons (``issue_buttons``; each has ``issue_path``)."""

    depends_on = ("revision",)

    def __init__(self, model: PlanEditorModel) -> None:
        self.issue_buttons: list[widgets.Button] = []
        self.issues_box = cls(widgets.VBox(), "issues")
        self._clean = widgets.HTML("<span style='color:#1b5e20'>no issues</span>")
        super().__init__(model, [widgets.HTML("<b>Issues</b>"), self.issues_box], name="issue-list")
        self.update()

    def update(self) -> None:
        """One button per issue, in plan order."""
        m = self.model
        buttons = []
        for issue in [*m.issues(), *m.lettering_warnings()]:
            b = button(issue_words(m.plan, issue), "issue", "exclamation-triangle")
            b.on_click(self.clicked(partial(m.goto, issue.path)))
            b.issue_path = issue.path
            buttons.append(b)
        for old in self.issue_buttons:
            old.close()
        self.issue_buttons = buttons
        self.issues_box.children = tuple(buttons) if buttons else (self._clean,)
