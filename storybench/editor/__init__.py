"""The plan editor: a model (no widget imports) and an ipywidgets view.

``PlanEditorModel`` holds the plan under edit; ``PlanEditorView`` (in :mod:`.view`,
imported lazily so the model works without ipywidgets) displays and edits it.

Modules (the pure edits themselves live in :mod:`storybench.plan.edits`, places in
:mod:`storybench.plan.paths`):

* :mod:`.state`: traits (selection, status, question, dirty), events, undo, goto; one way a plan changes.
* :mod:`.model`: open, generate, save (asking about problems and conflicts) and every edit.
* :mod:`.history`: bounded undo/redo stacks of plan objects, typing coalesced into one step.
* :mod:`.session`: the plan file: list, open, atomic save, dirty marker, save conflicts.
* :mod:`.assist`: the LLM assists (plan from an idea with Stop, panel dialogue, enhanced prompt).
* :mod:`.stoppable`: the LLM wrapper Stop and the kernel's Interrupt end.
* :mod:`.preview`: the page preview (storyboard panels composed) and its text alternative.
* :mod:`.issues`: issues in words and places ("Page 2, panel 1: ...").
* :mod:`.example`: a small built-in plan.
* :mod:`.view` and :mod:`.ui`: the app and its section widgets (toolbar, status line, navigator,
  panel form, dialogue, characters, image prompt, generate, issues, preview).
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
