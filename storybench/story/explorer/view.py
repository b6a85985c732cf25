"""The story explorer's view: ipywidgets over an :class:`ExplorerModel`.

Layout (top to bottom): settings (premise, language, style, LLM and image backends,
Start), the alert area, the current segment (text streaming in, then its
illustration — a spinner until ready — and its choice buttons), navigation (Back,
Regenerate, Retry image), the branch tree (one button per segment, indented, the
current path highlighted; click to jump), and file actions (path, Save, Load, export
kind, Export).

Every widget has a stable CSS class ``sb-story-...``. Actions run through
:func:`~storybench.story.explorer.decorator.busy_action`: buttons are disabled while
they run and errors show in the alert area.
"""

from __future__ import annotations

import base64
import html
from typing import Any

import ipywidgets as w

from storybench.llm.base import llm_backend_names
from storybench.plan.styles import STYLES
from storybench.render.base import image_backend_names
from storybench.story.explorer.decorator import busy_action
from storybench.story.explorer.model import ExplorerModel
from storybench.story.export import EXPORT_KINDS

__all__ = ["LANGUAGE_OPTIONS", "StoryExplorer"]

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

_CSS = """<style>
.sb-story-explorer .sb-story-text{font-family:Georgia,serif;font-size:15px;line-height:1.5;max-width:46rem}
.sb-story-explorer .sb-story-node-current button, .sb-story-node-current{font-weight:bold}
.sb-story-spinner{width:28px;height:28px;border:4px solid #ddd;border-top-color:#555;border-radius:50%;
  animation:sb-spin 1s linear infinite;margin:1rem auto}
@keyframes sb-spin{to{transform:rotate(360deg)}}
.sb-story-placeholder{width:384px;height:256px;background:#eee;display:flex;flex-direction:column;
  align-items:center;justify-content:center;color:#666;font-size:13px}
</style>"""


def _paragraphs_html(text: str, cursor: bool = False) -> str:
    paras = [p.strip() for p in text.replace("\r", "").split("\n\n") if p.strip()]
    body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paras)
    return body + ("<span class='sb-story-cursor'>▍</span>" if cursor else "")


def _classed(widget: w.DOMWidget, *classes: str) -> Any:
    for c in classes:
        widget.add_class(c)
    return widget


class StoryExplorer(w.VBox):
    """The branching-story explorer.

    Args:
        model: the explorer model (a new :class:`ExplorerModel` when ``None``).
        **kwargs: passed to :class:`ipywidgets.VBox`.
    """

    def __init__(self, model: ExplorerModel | None = None, **kwargs: Any) -> None:
        self.model = model if model is not None else ExplorerModel()
        m = self.model
        lay = w.Layout(width="auto")
        self.premise = _classed(
            w.Textarea(
                value=m.premise,
                placeholder="Premise: who, where, what is at stake…",
                layout=w.Layout(width="100%", height="70px"),
            ),
            "sb-story-premise",
        )
        self.language = _classed(
            w.Dropdown(options=self._language_options(m.language), value=m.language, description="Language"),
            "sb-story-language",
        )
        self.style = _classed(
            w.Dropdown(options=[(s.name, s.id) for s in STYLES.values()], value=m.style, description="Style"),
            "sb-story-style",
        )
        self.llm = _classed(
            w.Dropdown(options=self._names(llm_backend_names(), m.llm_backend), value=m.llm_backend, description="LLM"),
            "sb-story-llm",
        )
        self.image_backend = _classed(
            w.Dropdown(
                options=self._names(image_backend_names(), m.image_backend), value=m.image_backend, description="Images"
            ),
            "sb-story-image-backend",
        )
        self.start = _classed(
            w.Button(description="Start", icon="play", button_style="primary", layout=lay), "sb-story-start"
        )
        self.alert = _classed(w.HTML(""), "sb-story-alert")
        self.status = _classed(w.HTML(""), "sb-story-status")
        self.text = _classed(w.HTML(""), "sb-story-text")
        self.image = _classed(w.HTML(""), "sb-story-image")
        self.choices = _classed(w.VBox([]), "sb-story-choices")
        self.back = _classed(w.Button(description="Back", icon="arrow-left", layout=lay), "sb-story-back")
        self.regenerate = _classed(
            w.Button(description="Regenerate", icon="refresh", layout=lay), "sb-story-regenerate"
        )
        self.retry_image = _classed(
            w.Button(description="Retry image", icon="image", layout=lay), "sb-story-retry-image"
        )
        self.tree = _classed(w.VBox([]), "sb-story-tree")
        self.path = _classed(
            w.Text(value="", placeholder="story.json path (empty: the story folder)", layout=w.Layout(width="40%")),
            "sb-story-path",
        )
        self.save = _classed(w.Button(description="Save", icon="save", layout=lay), "sb-story-save")
        self.load = _classed(w.Button(description="Load", icon="folder-open", layout=lay), "sb-story-load")
        self.export_kind = _classed(
            w.Dropdown(
                options=list(EXPORT_KINDS),
                value="twee",
                layout=lay,
            ),
            "sb-story-export-kind",
        )
        self.export = _classed(w.Button(description="Export", icon="download", layout=lay), "sb-story-export")
        self.choice_buttons: list[w.Button] = []
        self.node_buttons: list[w.Button] = []

        w.link((self.premise, "value"), (m, "premise"))
        w.link((self.style, "value"), (m, "style"))
        for widget, trait in (
            (self.language, "language"),
            (self.llm, "llm_backend"),
            (self.image_backend, "image_backend"),
        ):
            self._sync_dropdown(widget, trait)

        self.start.on_click(lambda _: self.on_start())
        self.back.on_click(lambda _: self.on_back())
        self.regenerate.on_click(lambda _: self.on_regenerate())
        self.retry_image.on_click(lambda _: self.on_retry_image())
        self.save.on_click(lambda _: self.on_save())
        self.load.on_click(lambda _: self.on_load())
        self.export.on_click(lambda _: self.on_export())
        m.observe(self._show_streaming, "streaming_text")
        m.observe(lambda _: self.refresh(), "revision")
        m.observe(lambda _: self._show_image(), "image_revision")
        m.observe(self._show_error, "error")
        m.observe(lambda ch: setattr(self.status, "value", html.escape(ch["new"])), "status")

        settings = _classed(
            w.VBox(
                [
                    self.premise,
                    _classed(w.HBox([self.language, self.style]), "sb-story-settings-row"),
                    _classed(w.HBox([self.llm, self.image_backend, self.start]), "sb-story-backends-row"),
                ]
            ),
            "sb-story-settings",
        )
        nav = _classed(w.HBox([self.back, self.regenerate, self.retry_image]), "sb-story-nav")
        files = _classed(w.HBox([self.path, self.save, self.load, self.export_kind, self.export]), "sb-story-files")
        tree_box = _classed(w.Accordion(children=[self.tree], titles=("Branches",)), "sb-story-tree-box")
        super().__init__(
            [
                _classed(w.HTML(_CSS), "sb-story-css"),
                settings,
                self.alert,
                self.text,
                self.image,
                self.choices,
                nav,
                tree_box,
                files,
                self.status,
            ],
            **kwargs,
        )
        self.add_class("sb-story-explorer")
        self.refresh()

    # ------------------------------------------------------------ helpers
    @staticmethod
    def _names(names: list[str], default: str) -> list[str]:
        return sorted(set(names) | ({default} if default else set()))

    @staticmethod
    def _language_options(current: str) -> list[tuple[str, str]]:
        opts = list(LANGUAGE_OPTIONS)
        if current not in {v for _, v in opts}:
            opts.append((current, current))
        return opts

    def _sync_dropdown(self, dropdown: w.Dropdown, trait: str) -> None:
        """Two-way sync of a dropdown and a model trait; a model value not among the
        options (a backend registered later, a language tag) is added to them."""

        def to_model(change: dict[str, Any]) -> None:
            if change["new"] is not None and getattr(self.model, trait) != change["new"]:
                setattr(self.model, trait, change["new"])

        def to_widget(change: dict[str, Any]) -> None:
            value = change["new"]
            values = [o[1] if isinstance(o, tuple) else o for o in dropdown.options]
            if value not in values:
                dropdown.options = [
                    *dropdown.options,
                    (value, value) if isinstance(dropdown.options[0], tuple) else value,
                ]
            dropdown.value = value

        dropdown.observe(to_model, "value")
        self.model.observe(to_widget, trait)

    def action_widgets(self) -> list[w.DOMWidget]:
        """Widgets disabled while an action runs."""
        return [
            self.start,
            self.back,
            self.regenerate,
            self.retry_image,
            self.save,
            self.load,
            self.export,
            *self.choice_buttons,
            *self.node_buttons,
        ]

    def refresh_controls(self) -> None:
        """Enable the buttons that make sense now (nothing while busy)."""
        m = self.model
        has_story = m.story is not None and m.current is not None
        busy = m.busy
        self.start.disabled = busy
        self.load.disabled = busy
        self.back.disabled = busy or not m.can_go_back()
        self.regenerate.disabled = busy or not has_story
        self.retry_image.disabled = busy or not has_story or m.current is None or m.current.image_status != "failed"
        self.save.disabled = busy or not has_story
        self.export.disabled = busy or not has_story
        for b in self.choice_buttons + self.node_buttons:
            b.disabled = busy

    def _show_error(self, change: dict[str, Any]) -> None:
        msg = change["new"]
        self.alert.value = (
            f"<div class='sb-story-error' style='color:#a40000;background:#fde8e8;padding:6px 10px;"
            f"border-radius:4px'>⚠ {html.escape(msg)}</div>"
            if msg
            else ""
        )

    def _show_streaming(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.text.value = _paragraphs_html(change["new"], cursor=True)

    def _show_image(self) -> None:
        seg = self.model.current
        if seg is None:
            self.image.value = ""
            return
        if seg.image_status == "done":
            path = self.model.image_file(seg.id)
            try:
                data = base64.b64encode(path.read_bytes()).decode("ascii") if path else ""
            except OSError as exc:
                self.image.value = f"<div class='sb-story-placeholder'>image unreadable: {html.escape(str(exc))}</div>"
                return
            self.image.value = (
                f"<img src='data:image/png;base64,{data}' alt='{html.escape(seg.illustration_prompt)}' "
                f"title='{html.escape(seg.illustration_prompt)}' style='max-width:100%;border-radius:4px'>"
            )
        elif seg.image_status == "failed":
            self.image.value = (
                "<div class='sb-story-placeholder sb-story-image-failed'>Illustration failed: "
                f"{html.escape(seg.image_error)}</div>"
            )
        else:
            self.image.value = (
                "<div class='sb-story-placeholder sb-story-image-pending'><div class='sb-story-spinner'></div>"
                f"{'rendering' if seg.image_status == 'rendering' else 'waiting'}…</div>"
            )
        self.refresh_controls()

    def refresh(self) -> None:
        """Show the current segment, its choices and the branch tree."""
        m = self.model
        seg = m.current
        self.text.value = _paragraphs_html(seg.text) if seg is not None else ""
        self.choice_buttons = []
        if seg is not None:
            for i, choice in enumerate(seg.choices):
                b = _classed(
                    w.Button(
                        description=f"{i + 1}. {choice}",
                        tooltip=choice,
                        layout=w.Layout(width="auto", max_width="46rem"),
                    ),
                    "sb-story-choice",
                )
                b.on_click(lambda _, i=i: self.on_choose(i))
                self.choice_buttons.append(b)
        self.choices.children = tuple(self.choice_buttons)
        self.node_buttons = []
        for depth, node, on_path, is_current in m.tree():
            label = node.choice_text or "Start"
            b = w.Button(
                description=f"{node.id} · {label}"[:60],
                tooltip=node.text[:200],
                layout=w.Layout(width="auto", margin=f"0 0 0 {depth * 1.5}em"),
                button_style="info" if is_current else "",
            )
            _classed(b, "sb-story-node")
            if on_path:
                b.add_class("sb-story-node-path")
            if is_current:
                b.add_class("sb-story-node-current")
            b.on_click(lambda _, sid=node.id: self.on_goto(sid))
            self.node_buttons.append(b)
        self.tree.children = tuple(self.node_buttons)
        self._show_image()
        self.refresh_controls()

    # ------------------------------------------------------------ actions
    @busy_action
    def on_start(self) -> None:
        """Start a new story from the settings."""
        self.text.value = ""
        self.model.start()

    @busy_action
    def on_choose(self, index: int) -> None:
        """Follow a choice of the current segment."""
        self.model.choose(index)

    @busy_action
    def on_back(self) -> None:
        """Go to the parent segment."""
        self.model.back()

    @busy_action
    def on_regenerate(self) -> None:
        """Write a new version of the current segment."""
        self.model.regenerate()

    @busy_action
    def on_goto(self, segment_id: str) -> None:
        """Jump to a segment of the tree."""
        self.model.goto(segment_id)

    @busy_action
    def on_retry_image(self) -> None:
        """Render the current illustration again."""
        self.model.retry_image()

    @busy_action
    def on_save(self) -> None:
        """Save to the path field (empty: the story folder)."""
        written = self.model.save(self.path.value.strip() or None)
        self.path.value = str(written)

    @busy_action
    def on_load(self) -> None:
        """Load the story file named in the path field."""
        target = self.path.value.strip()
        if not target:
            raise ValueError("write the path of a story.json file in the path field, then press Load")
        self.model.load(target)

    @busy_action
    def on_export(self) -> None:
        """Export in the chosen format into the story folder."""
        self.model.export(self.export_kind.value)
