"""The dialogue of the selected panel: one row per line (speaker, text, move, remove), Add
line, and the LLM's Write dialogue."""

from __future__ import annotations

from functools import partial
from typing import Any

import ipywidgets as widgets

from storybench.editor.model import PlanEditorModel
from storybench.editor.ui.base import EditorSection, button, cls, set_options
from storybench.prompts.dialogue import list_dialogue_presets

__all__ = ["DialogueEditor", "DialogueRow"]


class DialogueRow(widgets.HBox):
    """One dialogue line: speaker dropdown, text, up/down/remove buttons (each with an accessible name)."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.speaker = cls(
            widgets.Dropdown(description=f"Speaker of line {index + 1}", layout=widgets.Layout(width="160px")),
            "line-speaker",
        )
        self.text = cls(
            widgets.Text(description=f"Line {index + 1}", continuous_update=False, layout=widgets.Layout(width="60%")),
            "line-text",
        )
        self.up = button("", "line-up", "arrow-up", f"move line {index + 1} up")
        self.down = button("", "line-down", "arrow-down", f"move line {index + 1} down")
        self.remove = button("", "line-remove", "trash", f"remove line {index + 1}")
        super().__init__([self.speaker, self.text, self.up, self.down, self.remove])
        cls(self, "line")


class DialogueEditor(EditorSection):
    """The dialogue rows of the selected panel (``dialogue_box``) and the dialogue buttons."""

    depends_on = ("revision", "selection", "busy", "generating")

    def __init__(self, model: PlanEditorModel) -> None:
        self.line_rows: list[DialogueRow] = []
        self.dialogue_box = cls(widgets.VBox(), "dialogue")
        self.add_line_button = button("Add line", "line-add", "comment")
        self.dialogue_type = cls(
            widgets.Dropdown(description="Dialogue", options=list(list_dialogue_presets()["dialogue_types"])),
            "dialogue-type",
        )
        self.dialogue_lines = cls(widgets.BoundedIntText(description="Lines", value=2, min=1, max=6), "dialogue-lines")
        self.write_dialogue_button = button("Write dialogue", "dialogue-write", "pencil")
        super().__init__(
            model,
            [
                widgets.HTML("<b>Dialogue</b>"),
                self.dialogue_box,
                self.add_line_button,
                widgets.HBox([self.dialogue_type, self.dialogue_lines, self.write_dialogue_button]),
            ],
            name="dialogue-editor",
        )
        self.add_line_button.on_click(self.clicked(lambda: self.model.add_line()))
        self.write_dialogue_button.on_click(
            self.clicked(
                lambda: self.model.write_panel_dialogue(self.dialogue_type.value, int(self.dialogue_lines.value))
            )
        )
        self.update()

    def _row(self, index: int) -> DialogueRow:
        m = self.model
        while len(self.line_rows) <= index:
            row = DialogueRow(len(self.line_rows))
            i = row.index
            self.on_value(row.speaker, partial(self._on_speaker, i))
            self.on_value(row.text, partial(self._on_text, i))
            row.up.on_click(self.clicked(partial(m.move_line, i, -1)))
            row.down.on_click(self.clicked(partial(m.move_line, i, +1)))
            row.remove.on_click(self.clicked(partial(m.remove_line, i)))
            self.line_rows.append(row)
        return self.line_rows[index]

    def _on_speaker(self, index: int, change: dict[str, Any]) -> None:
        if change["new"]:
            self.commit(lambda: self.model.update_line(index, speaker=change["new"]))

    def _on_text(self, index: int, change: dict[str, Any]) -> None:
        self.commit(lambda: self.model.update_line(index, text=change["new"]))

    def update(self) -> None:
        """Redraw one row per dialogue line of the selected panel."""
        m = self.model
        self.refresh_controls()
        if m.plan is None:
            return
        speakers = [(c.name, c.id) for c in m.plan.characters]
        known = {i for _, i in speakers}
        lines = m.panel.dialogue
        rows = [self._row(i) for i in range(len(lines))]
        with self.writing():
            for row, line in zip(rows, lines, strict=True):
                options = speakers + ([(f"? {line.character}", line.character)] if line.character not in known else [])
                set_options(row.speaker, options, line.character)
                row.text.value = line.text
                row.up.disabled = row.index == 0
                row.down.disabled = row.index == len(lines) - 1
        self.dialogue_box.children = tuple(rows)

    def action_widgets(self) -> list[widgets.DOMWidget]:
        """Write dialogue (disabled while an action runs)."""
        return [self.write_dialogue_button]

    def refresh_controls(self) -> None:
        """Write dialogue and Add line need a plan and an idle editor."""
        m = self.model
        self.write_dialogue_button.disabled = m.busy or m.generating or m.plan is None
        self.add_line_button.disabled = m.plan is None
