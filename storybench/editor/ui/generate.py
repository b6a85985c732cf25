"""The Generate tab: plan a new comic from an idea with the LLM, with progress and Stop."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from storybench.config import env_settings
from storybench.editor.model import PlanEditorModel
from storybench.editor.ui.base import EditorSection, button, cls, text
from storybench.llm.base import get_llm_backend
from storybench.llm.discovery import BUILTIN_HINT, FoundModel
from storybench.plan.styles import STYLE_IDS
from storybench.ui_kit.busy import in_background
from storybench.ui_kit.interrupt import register_stop

__all__ = ["GeneratePane"]


class GeneratePane(EditorSection):
    """Idea, style, pages, language, LLM and model; Generate plan and Stop.

    Args:
        model: the editor model.
        models: the LLMs offered in the Model list.
        background: generate off the kernel's main thread (Stop stays live).
    """

    depends_on = ("busy", "generating")

    def __init__(self, model: PlanEditorModel, models: list[FoundModel], background: bool) -> None:
        self.background = background
        self.prompt = text("Idea", "prompt", area=True)
        self.style = cls(widgets.Dropdown(description="Style", options=list(STYLE_IDS), value="noir"), "style")
        self.max_pages = cls(widgets.BoundedIntText(description="Pages", value=3, min=1, max=20), "max-pages")
        self.language = cls(widgets.Text(description="Language", value="en", continuous_update=False), "language")
        self.llm_name = cls(
            widgets.Text(description="LLM", value="", placeholder="default backend", continuous_update=False), "llm"
        )
        self.generate_button = button("Generate plan", "generate", "magic")
        self.generate_stop = button("Stop", "generate-stop", "stop")
        self.generate_stop.button_style = "danger"
        self.generate_stop.disabled = True
        self.progress = cls(
            widgets.IntProgress(value=0, min=0, max=1, description="Progress", layout=widgets.Layout(width="16rem")),
            "progress",
        )
        self.model_picker = cls(
            widgets.Dropdown(
                description="Model",
                options=[("(backend default)", ""), *((m.label, f"{m.backend}|{m.model}") for m in models)],
                value="",
                layout=widgets.Layout(width="auto", max_width="100%"),
            ),
            "model",
        )
        self.llm_note = cls(widgets.HTML(), "llm-note")
        super().__init__(
            model,
            [
                self.prompt,
                widgets.HBox([self.style, self.max_pages]),
                widgets.HBox([self.language, self.llm_name]),
                self.model_picker,
                self.llm_note,
                widgets.HBox([self.generate_button, self.generate_stop, self.progress]),
            ],
            name="generate-pane",
        )
        self.generate_button.on_click(lambda _b: self._act(self._generate))
        self.generate_stop.on_click(lambda _b: self.model.stop())
        self.on_value(self.llm_name, lambda _ch: self.show_llm_note())
        self.on_value(self.model_picker, lambda _ch: self.show_llm_note())
        self.show_llm_note()
        self.update()

    def update(self) -> None:
        """Generate is disabled while anything runs; Stop is live while a plan is generated."""
        self.refresh_controls()

    def action_widgets(self) -> list[widgets.DOMWidget]:
        """Generate plan (Stop stays live)."""
        return [self.generate_button]

    def refresh_controls(self) -> None:
        """Generate and Stop follow the busy and generating state."""
        m = self.model
        self.generate_button.disabled = m.busy or m.generating
        self.generate_stop.disabled = not m.generating

    def show_llm_note(self) -> None:
        """Say when the built-in tiny test model would write the plan."""
        picked = self.model_picker.value or ""
        if picked:
            backend, _, name = picked.partition("|")
            builtin = backend == "llamacpp" and not name
        else:
            name = self.llm_name.value.strip() or (None if self.model.llm is not None else env_settings().llm_backend)
            builtin = name == "llamacpp"
        note = f"<span style='color:#7a4f00;font-size:12px'><b>Note:</b> {html.escape(BUILTIN_HINT)}</span>"
        self.llm_note.value = note if builtin else ""

    def picked_llm(self) -> Any:
        """The LLM of a generation: the Model list's pick, else the LLM field's backend name."""
        picked = self.model_picker.value or ""
        if not picked:
            return self.llm_name.value.strip() or None
        backend, _, name = picked.partition("|")
        return get_llm_backend(backend, **({"model": name} if name else {}))

    def _generate(self) -> Any:
        self.progress.value = 0
        m = self.model

        def on_progress(event: Any) -> None:
            self.progress.max = max(1, event.total)
            self.progress.value = min(event.done, self.progress.max)
            self.progress.description = event.stage

        unregister = register_stop(m.stop)

        def run() -> Any:
            m.generating = True
            try:
                return m.generate(
                    self.prompt.value,
                    style=self.style.value,
                    max_pages=self.max_pages.value,
                    language=self.language.value.strip() or "en",
                    llm=self.picked_llm(),
                    on_progress=on_progress,
                )
            finally:
                m.generating = False
                unregister()

        return in_background(run, name="plan-generate") if self.background else run()
