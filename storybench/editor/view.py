"""The plan editor's ipywidgets app, laid out from section widgets (ipywidgets' ``AppLayout`` idea).

``PlanEditorView(model)`` is a ``VBox`` you display in a notebook::

    toolbar (plan list, Open, Save, dirty marker, Undo, Redo)   ui/toolbar.py
    question (when Save or Open asks)                           ui_kit.question_view
    status line and alert                                       ui/status.py
    navigator (chapter, page + layout, panel)                   ui/navigator.py   | preview  ui/preview.py
    tabs: Panel (form + dialogue), Characters, Image prompt,    ui/panel_form.py, |
          Generate                                              ui/dialogue.py, ui/characters.py,
                                                                ui/image_prompt.py, ui/generate.py
    issues                                                      ui/issues.py
    full-size page view (on demand)                             ui/preview.py

Each section observes the model traits it draws from and redraws only itself; the view
holds no plan state. A question opens next to the control that raised it (a layout change
in the navigator, removing a character in the Characters tab, Save and Open under the
toolbar), its first answer focused (which scrolls it into view); the status line says an
answer is needed. Every control has a stable CSS class ``sb-editor-...`` (see
:data:`CSS_CLASSES`) and an accessible name. Text fields commit on Enter or blur
(``continuous_update=False``), so each commit is one undo step.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from storybench.editor.model import PlanEditorModel
from storybench.editor.ui.base import CSS, CSS_CLASSES, cls
from storybench.editor.ui.candidates import CandidatesPane
from storybench.editor.ui.characters import CharactersForm
from storybench.editor.ui.dialogue import DialogueRow
from storybench.editor.ui.generate import GeneratePane
from storybench.editor.ui.image_prompt import ImagePrompt
from storybench.editor.ui.issues import IssueList
from storybench.editor.ui.navigator import Navigator
from storybench.editor.ui.panel_form import PanelForm
from storybench.editor.ui.preview import PreviewPane
from storybench.editor.ui.status import StatusLine
from storybench.editor.ui.toolbar import Toolbar
from storybench.llm.discovery import FoundModel, discover_models
from storybench.plan.paths import PlanPath
from storybench.ui_kit.busy import running_in_kernel
from storybench.ui_kit.question_view import QuestionView

__all__ = ["CSS_CLASSES", "DialogueRow", "PlanEditorView"]

#: Questions that open beside the navigator's layout list / the character form; others under the toolbar.
_QUESTION_HOME = {"drop-panels": "navigator", "character-in-use": "characters"}
_CHARACTER_FIELDS = ("name", "appearance", "clothing", "role")


class PlanEditorView(widgets.VBox):
    """The plan editor widget.

    Args:
        model: the model to edit (default: a new :class:`PlanEditorModel` on ``plans/``).
        debounce: seconds to wait after an edit before redrawing the preview;
            ``None`` disables the automatic preview (call :meth:`refresh_preview`).
        preview_width: preview page width, pixels.
        background: generate plans off the kernel's main thread (Stop stays live);
            default: when running in a Jupyter kernel.
        models: the LLMs offered in the Generate tab's Model list (default:
            :func:`~storybench.llm.discovery.discover_models`).

    Attributes:
        toolbar, status_line, navigator, panel_form, characters, image_prompt, generate_pane,
        issue_list, preview, question: the sections. Their controls are also attributes of
        the view under their old names (``save_button``, ``action``, ``layout_select``, ...).
    """

    def __init__(
        self,
        model: PlanEditorModel | None = None,
        *,
        debounce: float | None = 0.3,
        preview_width: int = 600,
        background: bool | None = None,
        models: list[FoundModel] | None = None,
    ) -> None:
        m = self.model = model or PlanEditorModel()
        found = models if models is not None else discover_models(timeout=0.3)
        self.toolbar = Toolbar(m)
        self.status_line = StatusLine(m)
        self.navigator = Navigator(m)
        self.panel_form = PanelForm(m)
        self.characters = CharactersForm(m)
        self.image_prompt = ImagePrompt(m)
        self.generate_pane = GeneratePane(m, found, running_in_kernel() if background is None else background)
        self.issue_list = IssueList(m)
        self.preview = PreviewPane(m, preview_width, debounce)
        self.question = QuestionView(on_answer=self._answer, prefix="sb-editor", focus=False)
        self.question_slot = cls(widgets.VBox(), "toolbar-question")
        self.candidates = CandidatesPane(m)
        tabs = [self.panel_form, self.characters, self.image_prompt, self.generate_pane, self.candidates]
        self.tabs = cls(widgets.Tab(tabs), "tabs")
        for i, title in enumerate(["Panel", "Characters", "Image prompt", "Generate", "Candidates"]):
            self.tabs.set_title(i, title)
        left = cls(
            widgets.VBox(
                [self.navigator, self.tabs, self.issue_list], layout=widgets.Layout(flex="3 1 30rem", min_width="0")
            ),
            "left",
        )
        super().__init__(
            [
                widgets.HTML(CSS),
                self.toolbar,
                self.question_slot,
                self.status_line,
                cls(widgets.HBox([left, cls(self.preview, "right")]), "main"),
                self.preview.full_view,
            ]
        )
        cls(self, "root")
        self._expose()
        m.observe(self._place_question, names="pending")
        m.observe(self._show_focus, names=["focus", "selection", "character_id"])
        self._place_question({"new": m.pending})

    def _expose(self) -> None:
        """The sections' controls as attributes of the view (the names tests and notebooks use)."""
        for section in (
            self.toolbar,
            self.status_line,
            self.navigator,
            self.panel_form,
            self.panel_form.dialogue,
            self.characters,
            self.image_prompt,
            self.generate_pane,
            self.issue_list,
            self.preview,
        ):
            for name, value in vars(section).items():
                if isinstance(value, (widgets.Widget, dict)) and not name.startswith("_") and name not in ("fields",):
                    self.__dict__.setdefault(name, value)

    # -- state that lives in a section -----------------------------------------------------
    @property
    def background(self) -> bool:
        """Generate plans off the kernel's main thread."""
        return self.generate_pane.background

    @background.setter
    def background(self, value: bool) -> None:
        self.generate_pane.background = value

    @property
    def debounce(self) -> float | None:
        """Seconds of quiet before the preview is redrawn (``None``: never by itself)."""
        return self.preview.debounce

    @property
    def pending_buttons(self) -> dict[str, widgets.Button]:
        """The answer buttons of the open question, by answer."""
        return self.question.buttons

    @property
    def pending_box(self) -> QuestionView:
        """The question box (hidden when nothing is asked)."""
        return self.question

    @property
    def pending_message(self) -> widgets.HTML:
        """The question's text."""
        return self.question.message

    @property
    def line_rows(self) -> list[DialogueRow]:
        """The dialogue rows made so far (the first ``len(panel.dialogue)`` are shown)."""
        return self.panel_form.dialogue.line_rows

    @property
    def issue_buttons(self) -> list[widgets.Button]:
        """One button per issue shown."""
        return self.issue_list.issue_buttons

    # -- questions and focus -------------------------------------------------------------------
    def _answer(self, choice: str) -> Any:
        return self.toolbar.commit(lambda: self.model.resolve(choice))

    def _place_question(self, change: dict[str, Any]) -> None:
        pending = change["new"]
        home = _QUESTION_HOME.get(pending.kind, "toolbar") if pending is not None else "toolbar"
        slots = {
            "toolbar": self.question_slot,
            "navigator": self.navigator.question_slot,
            "characters": self.characters.question_slot,
        }
        for name, slot in slots.items():
            slot.children = (self.question,) if name == home else ()
        if home == "characters":
            self.tabs.selected_index = 1
        self.question.show(pending)
        if pending is not None:
            self.question.focus_answer()

    def _focus_widget(self) -> widgets.DOMWidget | None:
        where = PlanPath.parse(self.model.focus or "")
        head = where.head if where.field or where.line is not None else ""
        if head == "dialogue":
            i = where.line
            rows = self.line_rows
            return rows[i].text if i is not None and i < len(rows) else None
        nav = self.navigator
        table = {
            **self.panel_form.fields,
            **self.characters.fields,
            "panels": nav.layout_select,
            "pageNumber": nav.page_select,
            "layout": nav.layout_select,
            "title": nav.chapter_title,
        }
        return table.get(head)

    def _show_focus(self, change: dict[str, Any] | None = None) -> None:
        target = self._focus_widget()
        candidates = [
            *self.panel_form.fields.values(),
            *self.characters.fields.values(),
            self.navigator.layout_select,
            self.navigator.page_select,
            self.navigator.chapter_title,
            *(r.text for r in self.line_rows),
        ]
        for w in candidates:
            if target is not None and w is target:
                w.add_class("sb-editor-focus")
            else:
                w.remove_class("sb-editor-focus")
        if target is not None:
            self.tabs.selected_index = 1 if target in self.characters.fields.values() else 0
            target.focus()

    # -- busy state and errors (storybench.ui_kit.busy) ----------------------------------
    def action_widgets(self) -> list[widgets.DOMWidget]:
        """Buttons disabled while an action runs (Stop is not one: it stays live)."""
        return [
            *self.toolbar.action_widgets(),
            *self.generate_pane.action_widgets(),
            *self.panel_form.dialogue.action_widgets(),
        ]

    def refresh_controls(self) -> None:
        """Set the enabled state of every button :meth:`action_widgets` lists."""
        self.toolbar.refresh_controls()
        self.generate_pane.refresh_controls()
        self.panel_form.dialogue.refresh_controls()

    def show_error(self, exc: BaseException) -> None:
        """Show an error message in the editor's alert area."""
        self.model.error = str(exc)

    def clear_error(self) -> None:
        """Clear the error message."""
        self.model.error = ""

    # -- redraw -------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw every section from the model (e.g. after plan files changed on disk)."""
        for section in (
            self.toolbar,
            self.status_line,
            self.navigator,
            self.panel_form,
            self.panel_form.dialogue,
            self.characters,
            self.image_prompt,
            self.issue_list,
        ):
            section.update()

    def schedule_preview(self) -> None:
        """Redraw the preview after ``debounce`` seconds of quiet."""
        self.preview.update()

    def refresh_preview(self) -> None:
        """Redraw the page preview now (synchronously)."""
        self.preview.refresh_preview()

    def close(self) -> None:
        """Stop the preview timer and close the widgets."""
        self.model.unobserve(self._place_question, names="pending")
        self.model.unobserve(self._show_focus, names=["focus", "selection", "character_id"])
        self.preview.close()
        self.candidates.close()
        super().close()
