"""The editor's status line (what the latest action did, or that an answer is needed) and its
alert area (the last action's error, announced with ``role="alert"``)."""

from __future__ import annotations

import html

import ipywidgets as widgets

from storybench.editor.issues import issue_words
from storybench.editor.model import PlanEditorModel
from storybench.editor.ui.base import EditorSection, cls
from storybench.ui_kit.a11y import alert_html
from storybench.ui_kit.links import file_link
from storybench.ui_kit.question_view import answer_needed_status

__all__ = ["StatusLine"]


class StatusLine(EditorSection):
    """The status (``sb-editor-status``) and the error (``sb-editor-error``).

    A save that left problems shows them in words and places (``sb-editor-warning``); a
    saved file is a JupyterLab link; while a question is open the status says that an
    answer is needed.
    """

    depends_on = ("status", "status_level", "pending", "error")

    def __init__(self, model: PlanEditorModel) -> None:
        self.status = cls(widgets.HTML(), "status")
        self.error = cls(widgets.HTML(), "error")
        super().__init__(model, [self.status, self.error], name="status-line")
        self.update()

    def update(self) -> None:
        """Redraw the status and the error from the model."""
        m = self.model
        self.error.value = alert_html(m.error, "sb-editor-alert", style="color:#b00020")
        if m.pending is not None:
            text = answer_needed_status(m.pending).splitlines()[0]
            self.status.value = f"<div role='status' style='color:#8a4500'><b>{html.escape(text)}</b></div>"
        elif m.status_level == "warning":
            items = "".join(f"<li>{html.escape(issue_words(m.plan, i, with_path=False))}</li>" for i in m.issues())
            self.status.value = (
                "<div class='sb-editor-warning' role='status' style='color:#7a3e00;background:#fff4e0;padding:4px 8px'>"
                f"⚠ {html.escape(m.status)}<ul style='margin:2px 0'>{items}</ul></div>"
            )
        elif m.path is not None and m.status.startswith("saved ") and str(m.path) in m.status:
            head, _, tail = m.status.partition(str(m.path))
            self.status.value = f"<div role='status'>{html.escape(head)}{file_link(m.path)}{html.escape(tail)}</div>"
        else:
            self.status.value = f"<div role='status'>{html.escape(m.status)}</div>" if m.status else ""
