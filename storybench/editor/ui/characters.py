"""The Characters tab: pick a character, edit its name, appearance, clothing, role and seed,
add or remove characters."""

from __future__ import annotations

from functools import partial
from typing import Any

import ipywidgets as widgets

from storybench.editor.model import PlanEditorModel
from storybench.editor.ui.base import EditorSection, button, cls, set_options, text

__all__ = ["CharactersForm"]

_FIELDS = ("name", "appearance", "clothing", "role")


class CharactersForm(EditorSection):
    """The character form; a question about a character in use opens in :attr:`question_slot`."""

    depends_on = ("revision", "character_id")

    def __init__(self, model: PlanEditorModel) -> None:
        self.character_select = cls(widgets.Dropdown(description="Character"), "character-select")
        self.char_name = text("Name", "character-name")
        self.char_appearance = text("Appearance", "character-appearance", area=True)
        self.char_clothing = text("Clothing", "character-clothing")
        self.char_role = text("Role", "character-role")
        self.char_seed = cls(widgets.IntText(description="Seed"), "character-seed")
        self.new_seed_button = button("New seed", "character-new-seed", "random")
        self.pin_seed_button = button("Pin seed", "character-pin-seed", "thumb-tack")
        self.add_character_button = button("Add character", "character-add", "plus")
        self.remove_character_button = button("Remove character", "character-remove", "trash")
        self.question_slot = cls(widgets.VBox(), "character-question")
        self.fields = {
            "name": self.char_name,
            "appearance": self.char_appearance,
            "clothing": self.char_clothing,
            "role": self.char_role,
        }
        super().__init__(
            model,
            [
                widgets.HBox([self.character_select, self.add_character_button, self.remove_character_button]),
                self.question_slot,
                *self.fields.values(),
                widgets.HBox([self.char_seed, self.new_seed_button, self.pin_seed_button]),
            ],
            name="characters",
        )
        self.on_value(self.character_select, lambda ch: self.commit(lambda: self._select(ch["new"])))
        for key, w in self.fields.items():
            self.on_value(w, partial(self._on_field, key))
        self.new_seed_button.on_click(self.clicked(lambda: self._with_character(self.model.regenerate_seed)))
        self.pin_seed_button.on_click(
            self.clicked(lambda: self._with_character(lambda cid: self.model.pin_seed(cid, int(self.char_seed.value))))
        )
        self.add_character_button.on_click(
            self.clicked(
                lambda: self.model.add_character("New character", appearance="describe face, hair, build, age")
            )
        )
        self.remove_character_button.on_click(
            self.clicked(lambda: self._with_character(lambda cid: self.model.remove_character(cid, on_used="ask")))
        )
        self.update()

    def _on_field(self, key: str, change: dict[str, Any]) -> None:
        self.commit(lambda: self._set(key, change["new"]))

    def _select(self, character_id: str | None) -> None:
        if character_id != self.model.character_id:
            self.model.select_character(character_id)

    def _set(self, key: str, value: str) -> None:
        if self.model.character_id:
            self.model.update_character(self.model.character_id, **{key: value})

    def _with_character(self, action: object) -> object:
        cid = self.model.character_id
        return action(cid) if cid and callable(action) else None

    def update(self) -> None:
        """Redraw the character list and the selected character's fields."""
        plan = self.model.plan
        self.add_character_button.disabled = plan is None
        if plan is None:
            return
        cid = self.model.character_id
        c = next((x for x in plan.characters if x.id == cid), None)
        with self.writing():
            set_options(self.character_select, [(x.name, x.id) for x in plan.characters], c.id if c else None)
            for key, w in self.fields.items():
                w.value = getattr(c, key, "")
                w.disabled = c is None
            self.char_seed.value = getattr(c, "seed", 0) or 0
