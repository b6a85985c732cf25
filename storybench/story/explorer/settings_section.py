"""The explorer's settings section: premise, language, style, LLM and model, images.

A :class:`~storybench.ui_kit.collapsible.Collapsible` ("Story settings", a real
button) that folds away once a story is started. Every control has an accessible
name (its ``description`` is a ``<label for>`` in the page) and is bound to its model
trait with :func:`~storybench.ui_kit.binding.bind`.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from storybench.llm.base import llm_backend_names
from storybench.llm.discovery import FoundModel
from storybench.plan.styles import STYLES
from storybench.render.base import image_backend_names
from storybench.story.explorer.model import ExplorerModel
from storybench.ui_kit.binding import bind
from storybench.ui_kit.collapsible import Collapsible

__all__ = ["LANGUAGE_OPTIONS", "SettingsSection"]

LANGUAGE_OPTIONS: list[tuple[str, str]] = [
    ("English", "en"),
    ("Українська", "uk"),
    ("Русский", "ru"),
    ("Français", "fr"),
    ("Deutsch", "de"),
    ("Español", "es"),
    ("Italiano", "it"),
    ("Polski", "pl"),
    ("Português", "pt"),
]

_LABEL = {"description_width": "5.5rem"}


def classed(widget: Any, *classes: str) -> Any:
    """``widget`` with the CSS classes added."""
    for c in classes:
        widget.add_class(c)
    return widget


def _names(names: list[str], default: str) -> list[str]:
    return sorted(set(names) | ({default} if default else set()))


def _model_options(found: list[FoundModel]) -> list[tuple[str, str]]:
    return [(f"{m.label} · {m.source}" if not m.builtin else m.label, f"{m.backend}|{m.model}") for m in found]


class SettingsSection(Collapsible):
    """The settings of the next story started.

    Args:
        model: the explorer model.
        found: the LLMs offered in the Model picker.
    """

    def __init__(self, model: ExplorerModel, found: list[FoundModel]) -> None:
        m = self.model = model
        self.premise = classed(
            w.Textarea(
                description="Premise",
                placeholder="Who, where, what is at stake…",
                layout=w.Layout(width="100%", height="70px"),
                style=_LABEL,
            ),
            "sb-story-premise",
        )
        languages = list(LANGUAGE_OPTIONS)
        self.language = classed(
            w.Dropdown(options=languages, description="Language", style=_LABEL), "sb-story-language"
        )
        styles = [(s.name, s.id) for s in STYLES.values()]
        self.style = classed(w.Dropdown(options=styles, description="Style", style=_LABEL), "sb-story-style")
        llms = _names(llm_backend_names(), m.llm_backend)
        self.llm = classed(w.Dropdown(options=llms, description="LLM", style=_LABEL), "sb-story-llm")
        self.model_picker = classed(
            w.Dropdown(
                options=[("(backend default)", ""), *_model_options(found)],
                value="",
                description="Model",
                style=_LABEL,
                layout=w.Layout(width="auto", max_width="32rem"),
            ),
            "sb-story-model",
        )
        images = _names(image_backend_names(), m.image_backend)
        self.image_backend = classed(
            w.Dropdown(options=images, description="Images", style=_LABEL), "sb-story-image-backend"
        )
        for widget, trait in (
            (self.premise, "premise"),
            (self.language, "language"),
            (self.style, "style"),
            (self.llm, "llm_backend"),
            (self.image_backend, "image_backend"),
        ):
            bind(m, trait, widget)
        self.model_picker.observe(self._on_pick_model, "value")
        body = classed(
            w.VBox(
                [
                    self.premise,
                    classed(w.HBox([self.language, self.style, self.image_backend]), "sb-story-settings-row"),
                    classed(w.HBox([self.llm, self.model_picker]), "sb-story-backends-row"),
                ]
            ),
            "sb-story-settings",
        )
        super().__init__("Story settings", body, expanded=True)
        self.add_class("sb-story-settings-box")

    def _on_pick_model(self, change: dict[str, Any]) -> None:
        value = change["new"] or ""
        if not value:
            self.model.llm_model = ""
            return
        backend, _, name = value.partition("|")
        self.model.llm_backend = backend
        self.model.llm_model = name
