"""The Image prompt tab: enhancement presets and the selected panel's enhanced prompt (read-only)."""

from __future__ import annotations

import ipywidgets as widgets

from storybench.editor.model import PlanEditorModel
from storybench.editor.ui.base import EditorSection, cls
from storybench.prompts.enhance import list_presets

__all__ = ["ImagePrompt"]


class ImagePrompt(EditorSection):
    """One dropdown per preset category (``preset_selects``) and the prompt they give."""

    depends_on = ("revision", "selection")

    def __init__(self, model: PlanEditorModel) -> None:
        self.preset_selects: dict[str, widgets.Dropdown] = {}
        for cat, presets in list_presets().items():
            self.preset_selects[cat] = cls(
                widgets.Dropdown(description=cat.capitalize(), options=[("—", ""), *((k, k) for k in presets)]),
                f"preset-{cat}",
            )
        self.enhanced_prompt = cls(
            widgets.Textarea(description="Prompt", disabled=True, layout=widgets.Layout(width="98%", height="90px")),
            "enhanced-prompt",
        )
        selects = list(self.preset_selects.values())
        super().__init__(
            model, [widgets.HBox(selects[:2]), widgets.HBox(selects[2:]), self.enhanced_prompt], name="image-prompt"
        )
        for w in selects:
            self.on_value(w, lambda _ch: self.update())
        self.update()

    def update(self) -> None:
        """Show the selected panel's prompt with the chosen presets."""
        if self.model.plan is None:
            return
        chosen = {cat: w.value or None for cat, w in self.preset_selects.items()}
        try:
            result = self.model.enhanced_prompt(**chosen)
            self.enhanced_prompt.value = result.prompt + (f"\n\nnegative: {result.negative}" if result.negative else "")
        except Exception as exc:
            self.enhanced_prompt.value = f"(no prompt: {exc})"
