"""The plan editor: a model (no widget imports) and an ipywidgets view.

``PlanEditorModel`` holds the plan under edit (undo/redo, dirty marker, pending
questions, validation with JSON paths); ``PlanEditorView`` (in :mod:`.view`,
imported lazily so the model works without ipywidgets) displays and edits it.
"""

from storybench.editor.example import example_plan
from storybench.editor.model import PANEL_FIELDS, PLACEHOLDER_ACTION, EditRejected, Pending, PlanEditorModel

__all__ = [
    "PANEL_FIELDS",
    "PLACEHOLDER_ACTION",
    "EditRejected",
    "Pending",
    "PlanEditorModel",
    "PlanEditorView",
    "example_plan",
]


def __getattr__(name: str):
    if name == "PlanEditorView":
        from storybench.editor.view import PlanEditorView

        return PlanEditorView
    raise AttributeError(name)
