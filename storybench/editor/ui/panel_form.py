"""The Panel tab's form: action, location, mood, camera, characters, caption and SFX of the
selected panel, with the dialogue editor between characters and caption."""

from __future__ import annotations

from functools import partial
from typing import Any

import ipywidgets as widgets

from storybench.editor.model import PlanEditorModel
from storybench.editor.ui.base import EditorSection, cls, set_options, text
from storybench.editor.ui.dialogue import DialogueEditor
from storybench.planner.schemas import CAMERA_SHOTS

__all__ = ["PanelForm"]


class PanelForm(EditorSection):
    """The selected panel's fields (``fields``: by plan field name) and its :class:`DialogueEditor`."""

    depends_on = ("revision", "selection")

    def __init__(self, model: PlanEditorModel) -> None:
        self.action = text("Action", "panel-action", area=True)
        self.location = text("Location", "panel-location")
        self.mood = text("Mood", "panel-mood")
        self.camera = cls(widgets.Dropdown(description="Camera", options=list(CAMERA_SHOTS)), "panel-camera")
        self.panel_characters = cls(widgets.SelectMultiple(description="Characters", rows=4), "panel-characters")
        self.narrative = text("Caption", "panel-narrative", area=True)
        self.sfx = text("SFX", "panel-sfx")
        self.dialogue = DialogueEditor(model)
        self.fields: dict[str, widgets.DOMWidget] = {
            "action": self.action,
            "location": self.location,
            "mood": self.mood,
            "camera": self.camera,
            "narrative": self.narrative,
            "sfx": self.sfx,
            "characters": self.panel_characters,
        }
        super().__init__(
            model,
            [
                self.action,
                self.location,
                widgets.HBox([self.mood, self.camera]),
                self.panel_characters,
                self.dialogue,
                self.narrative,
                self.sfx,
            ],
            name="panel-form",
        )
        for key, w in self.fields.items():
            if key == "characters":
                self.on_value(w, lambda ch: self.commit(lambda: self.model.update_panel(characters=list(ch["new"]))))
            else:
                self.on_value(w, partial(self._on_field, key))
        self.update()

    def _on_field(self, key: str, change: dict[str, Any]) -> None:
        self.commit(lambda: self.model.update_panel(**{key: change["new"]}))

    def update(self) -> None:
        """Redraw the fields from the selected panel."""
        m = self.model
        if m.plan is None:
            return
        pan = m.panel
        speakers = [(c.name, c.id) for c in m.plan.characters]
        with self.writing():
            self.action.value = pan.action
            self.location.value = pan.location
            self.mood.value = pan.mood
            cams = [*CAMERA_SHOTS, *([pan.camera] if pan.camera not in CAMERA_SHOTS else [])]
            set_options(self.camera, cams, pan.camera)
            self.narrative.value = pan.narrative or ""
            self.sfx.value = pan.sfx or ""
            known = {i for _, i in speakers}
            set_options(self.panel_characters, speakers, tuple(x for x in pan.characters if x in known))
