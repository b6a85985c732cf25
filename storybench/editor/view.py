"""The plan editor's ipywidgets view.

``PlanEditorView(model)`` is a ``VBox`` you display in a notebook. It calls into
:class:`~storybench.editor.model.PlanEditorModel` and redraws from the model's
events; it holds no plan state of its own. Every control has a stable CSS class
``sb-editor-...`` (see :data:`CSS_CLASSES`). Text fields commit on Enter or blur
(``continuous_update=False``), so each commit is one undo step.

The page preview is redrawn after edits, debounced (``debounce`` seconds, a
``threading.Timer``); :meth:`PlanEditorView.refresh_preview` redraws at once (tests).
"""

from __future__ import annotations

import html
import io
import threading
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from storybench.config import env_settings
from storybench.editor.issues import issue_words
from storybench.editor.model import PlanEditorModel
from storybench.llm.base import get_llm_backend
from storybench.llm.discovery import BUILTIN_HINT, FoundModel, discover_models
from storybench.plan.layouts import TEMPLATE_IDS, TEMPLATES
from storybench.plan.styles import STYLE_IDS
from storybench.planner.schemas import CAMERA_SHOTS
from storybench.prompts.dialogue import list_dialogue_presets
from storybench.prompts.enhance import list_presets
from storybench.ui_kit.busy import busy_action, in_background, running_in_kernel
from storybench.ui_kit.interrupt import register_stop
from storybench.ui_kit.links import file_link

__all__ = ["CSS_CLASSES", "DialogueRow", "PlanEditorView"]

CSS_CLASSES: dict[str, str] = {}

# Rows wrap instead of scrolling; labels are never cut (JupyterLab 4 at 1280×800 with the
# file browser open leaves about 800 px for the output area).
_CSS = """<style>
.sb-editor-root .widget-hbox{flex-wrap:wrap;overflow:visible;gap:2px 4px}
.sb-editor-root .widget-vbox{overflow:visible}
.sb-editor-root .widget-button{width:auto;min-width:fit-content;overflow:visible;text-overflow:clip}
.sb-editor-root .widget-dropdown,.sb-editor-root .widget-text,.sb-editor-root .widget-inline-hbox{
  width:auto;min-width:12rem;max-width:100%}
.sb-editor-root .widget-dropdown > select{min-width:6rem}
.sb-editor-root .widget-textarea{width:100%;max-width:100%}
.sb-editor-root .sb-editor-line-text{flex:1 1 12rem;min-width:8rem}
.sb-editor-root .sb-editor-issue{height:auto;white-space:normal;text-align:left;max-width:100%}
.sb-editor-root .sb-editor-preview img,.sb-editor-root img.sb-editor-preview{max-width:100%;height:auto}
.sb-editor-root .widget-tab > .p-TabBar .p-TabBar-tab,.sb-editor-root .lm-TabBar-tab{min-width:fit-content}
.sb-editor-root .sb-editor-pending{background:#fff6e0;padding:4px 8px;border-radius:4px}
</style>"""


def _default_llm() -> str:
    return env_settings().llm_backend


def _cls(widget: widgets.DOMWidget, name: str) -> widgets.DOMWidget:
    css = f"sb-editor-{name}"
    CSS_CLASSES[name] = css
    widget.add_class(css)
    return widget


def _button(description: str, name: str, icon: str = "", tooltip: str = "") -> widgets.Button:
    return _cls(
        widgets.Button(
            description=description, icon=icon, tooltip=tooltip or description, layout=widgets.Layout(width="auto")
        ),
        name,
    )


def _text(description: str, name: str, area: bool = False) -> widgets.Text:
    cls = widgets.Textarea if area else widgets.Text
    w = cls(description=description, continuous_update=False, layout=widgets.Layout(width="98%"))
    return _cls(w, name)


class DialogueRow(widgets.HBox):
    """One dialogue line: speaker dropdown, text, up/down/remove buttons."""

    def __init__(self, view: PlanEditorView, index: int) -> None:
        self.index = index
        self.speaker = _cls(widgets.Dropdown(layout=widgets.Layout(width="160px")), "line-speaker")
        self.text = _cls(widgets.Text(continuous_update=False, layout=widgets.Layout(width="60%")), "line-text")
        self.up = _button("", "line-up", "arrow-up", "move line up")
        self.down = _button("", "line-down", "arrow-down", "move line down")
        self.remove = _button("", "line-remove", "trash", "remove line")
        super().__init__([self.speaker, self.text, self.up, self.down, self.remove])
        _cls(self, "line")
        self.speaker.observe(lambda ch: view._on_line_speaker(self.index, ch), names="value")
        self.text.observe(lambda ch: view._on_line_text(self.index, ch), names="value")
        self.up.on_click(lambda b: view._on_line_move(b, self.index, -1))
        self.down.on_click(lambda b: view._on_line_move(b, self.index, +1))
        self.remove.on_click(lambda b: view._on_line_remove(b, self.index))


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
        self.model = model or PlanEditorModel()
        self.background = running_in_kernel() if background is None else background
        self.debounce = debounce
        self.preview_width = preview_width
        self._syncing = False
        self._timer: threading.Timer | None = None
        self.line_rows: list[DialogueRow] = []
        self.issue_buttons: list[widgets.Button] = []
        self.pending_buttons: dict[str, widgets.Button] = {}

        # top bar
        self.plan_select = _cls(
            widgets.Dropdown(
                description="Plan", layout=widgets.Layout(width="auto", flex="1 1 14rem", max_width="24rem")
            ),
            "plan-select",
        )
        self.open_button = _button("Open", "open", "folder-open")
        self.save_button = _button("Save", "save", "save")
        self.dirty_label = _cls(widgets.HTML(), "dirty")
        self.undo_button = _button("Undo", "undo", "undo")
        self.redo_button = _button("Redo", "redo", "repeat")
        self.status = _cls(widgets.HTML(), "status")
        self.error = _cls(widgets.HTML(), "error")
        self.pending_message = _cls(widgets.HTML(), "pending-message")
        self.pending_box = _cls(widgets.HBox([self.pending_message]), "pending")
        self.pending_box.layout.display = "none"

        # generate
        self.prompt = _text("Idea", "prompt", area=True)
        self.style = _cls(widgets.Dropdown(description="Style", options=list(STYLE_IDS), value="noir"), "style")
        self.max_pages = _cls(widgets.BoundedIntText(description="Pages", value=3, min=1, max=20), "max-pages")
        self.language = _cls(widgets.Text(description="Language", value="en", continuous_update=False), "language")
        self.llm_name = _cls(
            widgets.Text(description="LLM", value="", placeholder="default backend", continuous_update=False), "llm"
        )
        self.generate_button = _button("Generate plan", "generate", "magic")
        self.generate_stop = _button("Stop", "generate-stop", "stop")
        self.generate_stop.button_style = "danger"
        self.generate_stop.disabled = True
        self.progress = _cls(
            widgets.IntProgress(value=0, min=0, max=1, description="", layout=widgets.Layout(width="12rem")), "progress"
        )
        found = models if models is not None else discover_models(timeout=0.3)
        self.model_picker = _cls(
            widgets.Dropdown(
                description="Model",
                options=[("(backend default)", ""), *((m.label, f"{m.backend}|{m.model}") for m in found)],
                value="",
                layout=widgets.Layout(width="auto", max_width="100%"),
            ),
            "model",
        )
        self.llm_note = _cls(widgets.HTML(), "llm-note")
        generate_box = widgets.VBox(
            [
                self.prompt,
                widgets.HBox([self.style, self.max_pages]),
                widgets.HBox([self.language, self.llm_name]),
                self.model_picker,
                self.llm_note,
                widgets.HBox([self.generate_button, self.generate_stop, self.progress]),
            ]
        )

        # characters
        self.character_select = _cls(widgets.Dropdown(description="Character"), "character-select")
        self.char_name = _text("Name", "character-name")
        self.char_appearance = _text("Appearance", "character-appearance", area=True)
        self.char_clothing = _text("Clothing", "character-clothing")
        self.char_role = _text("Role", "character-role")
        self.char_seed = _cls(widgets.IntText(description="Seed"), "character-seed")
        self.new_seed_button = _button("New seed", "character-new-seed", "random")
        self.pin_seed_button = _button("Pin seed", "character-pin-seed", "thumb-tack")
        self.add_character_button = _button("Add character", "character-add", "plus")
        self.remove_character_button = _button("Remove character", "character-remove", "trash")
        characters_box = widgets.VBox(
            [
                widgets.HBox([self.character_select, self.add_character_button, self.remove_character_button]),
                self.char_name,
                self.char_appearance,
                self.char_clothing,
                self.char_role,
                widgets.HBox([self.char_seed, self.new_seed_button, self.pin_seed_button]),
            ]
        )

        # navigation
        self.chapter_select = _cls(widgets.Dropdown(description="Chapter"), "chapter-select")
        self.chapter_title = _cls(widgets.Text(description="Title", continuous_update=False), "chapter-title")
        self.add_chapter_button = _button("Add chapter", "chapter-add", "plus")
        self.remove_chapter_button = _button("Remove chapter", "chapter-remove", "trash")
        self.page_select = _cls(widgets.Dropdown(description="Page"), "page-select")
        self.layout_select = _cls(
            widgets.Dropdown(
                description="Layout", options=[(f"{t} ({TEMPLATES[t].panel_count})", t) for t in TEMPLATE_IDS]
            ),
            "layout",
        )
        self.add_page_button = _button("Add page", "page-add", "plus")
        self.remove_page_button = _button("Remove page", "page-remove", "trash")
        self.page_up_button = _button("", "page-up", "arrow-up", "move page earlier")
        self.page_down_button = _button("", "page-down", "arrow-down", "move page later")
        self.panel_select = _cls(widgets.Dropdown(description="Panel"), "panel-select")
        self.add_panel_button = _button("Add panel", "panel-add", "plus")
        self.remove_panel_button = _button("Remove panel", "panel-remove", "trash")
        self.panel_up_button = _button("", "panel-up", "arrow-left", "move panel earlier")
        self.panel_down_button = _button("", "panel-down", "arrow-right", "move panel later")
        nav_box = widgets.VBox(
            [
                widgets.HBox(
                    [self.chapter_select, self.chapter_title, self.add_chapter_button, self.remove_chapter_button]
                ),
                widgets.HBox(
                    [
                        self.page_select,
                        self.layout_select,
                        self.add_page_button,
                        self.remove_page_button,
                        self.page_up_button,
                        self.page_down_button,
                    ]
                ),
                widgets.HBox(
                    [
                        self.panel_select,
                        self.add_panel_button,
                        self.remove_panel_button,
                        self.panel_up_button,
                        self.panel_down_button,
                    ]
                ),
            ]
        )

        # panel form
        self.action = _text("Action", "panel-action", area=True)
        self.location = _text("Location", "panel-location")
        self.mood = _text("Mood", "panel-mood")
        self.camera = _cls(widgets.Dropdown(description="Camera", options=list(CAMERA_SHOTS)), "panel-camera")
        self.panel_characters = _cls(widgets.SelectMultiple(description="Characters", rows=4), "panel-characters")
        self.dialogue_box = _cls(widgets.VBox(), "dialogue")
        self.add_line_button = _button("Add line", "line-add", "comment")
        self.narrative = _text("Caption", "panel-narrative", area=True)
        self.sfx = _text("SFX", "panel-sfx")
        self.dialogue_type = _cls(
            widgets.Dropdown(description="Dialogue", options=list(list_dialogue_presets()["dialogue_types"])),
            "dialogue-type",
        )
        self.dialogue_lines = _cls(widgets.BoundedIntText(description="Lines", value=2, min=1, max=6), "dialogue-lines")
        self.write_dialogue_button = _button("Write dialogue", "dialogue-write", "pencil")
        panel_box = widgets.VBox(
            [
                self.action,
                self.location,
                widgets.HBox([self.mood, self.camera]),
                self.panel_characters,
                widgets.HTML("<b>Dialogue</b>"),
                self.dialogue_box,
                self.add_line_button,
                widgets.HBox([self.dialogue_type, self.dialogue_lines, self.write_dialogue_button]),
                self.narrative,
                self.sfx,
            ]
        )

        # image prompt presets
        self.preset_selects: dict[str, widgets.Dropdown] = {}
        for cat, presets in list_presets().items():
            self.preset_selects[cat] = _cls(
                widgets.Dropdown(description=cat.capitalize(), options=[("—", "")] + [(k, k) for k in presets]),
                f"preset-{cat}",
            )
        self.enhanced_prompt = _cls(
            widgets.Textarea(description="Prompt", disabled=True, layout=widgets.Layout(width="98%", height="90px")),
            "enhanced-prompt",
        )
        prompt_box = widgets.VBox(
            [
                widgets.HBox(list(self.preset_selects.values())[:2]),
                widgets.HBox(list(self.preset_selects.values())[2:]),
                self.enhanced_prompt,
            ]
        )

        # issues and preview
        self.issues_box = _cls(widgets.VBox(), "issues")
        self.preview_image = _cls(
            widgets.Image(format="png", layout=widgets.Layout(max_width=f"{preview_width}px")), "preview"
        )
        self.preview_message = _cls(widgets.HTML(), "preview-message")
        self.refresh_preview_button = _button("Redraw", "preview-refresh", "refresh")

        tabs = _cls(widgets.Tab([panel_box, characters_box, prompt_box, generate_box]), "tabs")
        for i, title in enumerate(["Panel", "Characters", "Image prompt", "Generate"]):
            tabs.set_title(i, title)
        self.tabs = tabs
        left = _cls(
            widgets.VBox(
                [nav_box, tabs, widgets.HTML("<b>Issues</b>"), self.issues_box],
                layout=widgets.Layout(flex="3 1 30rem", min_width="0"),
            ),
            "left",
        )
        right = _cls(
            widgets.VBox(
                [self.refresh_preview_button, self.preview_message, self.preview_image],
                layout=widgets.Layout(flex="2 1 16rem", min_width="0"),
            ),
            "right",
        )
        top = widgets.HBox(
            [self.plan_select, self.open_button, self.save_button, self.dirty_label, self.undo_button, self.redo_button]
        )
        super().__init__(
            [
                widgets.HTML(_CSS),
                top,
                self.status,
                self.error,
                self.pending_box,
                _cls(widgets.HBox([left, right]), "main"),
            ]
        )
        _cls(self, "root")

        self._wire()
        self.model.observe(self._on_model)
        self.model.observe(self._show_error, names="error")
        self.model.observe(lambda _: self.refresh_controls(), names=["busy", "generating"])
        self._show_llm_note()
        self._sync()
        if self.model.plan is not None and self.debounce is not None:
            self.schedule_preview()

    # -- wiring ---------------------------------------------------------------------
    def _wire(self) -> None:
        m = self.model
        self.open_button.on_click(self._on_open)
        self.save_button.on_click(self._on_save)
        self.undo_button.on_click(self._on_undo)
        self.redo_button.on_click(self._on_redo)
        self.generate_button.on_click(self._on_generate)
        self.generate_stop.on_click(lambda _: self.model.stop())
        self.llm_name.observe(lambda _: self._show_llm_note(), names="value")
        self.model_picker.observe(lambda _: self._show_llm_note(), names="value")
        self.character_select.observe(self._on_character_select, names="value")
        for w, key in (
            (self.char_name, "name"),
            (self.char_appearance, "appearance"),
            (self.char_clothing, "clothing"),
            (self.char_role, "role"),
        ):
            w.observe(lambda ch, key=key: self._on_character_field(key, ch), names="value")
        self.new_seed_button.on_click(self._on_new_seed)
        self.pin_seed_button.on_click(self._on_pin_seed)
        self.add_character_button.on_click(self._on_add_character)
        self.remove_character_button.on_click(self._on_remove_character)
        self.chapter_select.observe(self._on_chapter_select, names="value")
        self.chapter_title.observe(self._on_chapter_title, names="value")
        self.add_chapter_button.on_click(self._on_simple(lambda: m.add_chapter()))
        self.remove_chapter_button.on_click(self._on_simple(m.remove_chapter))
        self.page_select.observe(self._on_page_select, names="value")
        self.layout_select.observe(self._on_layout, names="value")
        self.add_page_button.on_click(self._on_simple(lambda: m.add_page(self.layout_select.value or "single")))
        self.remove_page_button.on_click(self._on_simple(m.remove_page))
        self.page_up_button.on_click(self._on_simple(lambda: m.move_page(-1)))
        self.page_down_button.on_click(self._on_simple(lambda: m.move_page(+1)))
        self.panel_select.observe(self._on_panel_select, names="value")
        self.add_panel_button.on_click(self._on_simple(m.add_panel))
        self.remove_panel_button.on_click(self._on_simple(m.remove_panel))
        self.panel_up_button.on_click(self._on_simple(lambda: m.move_panel(-1)))
        self.panel_down_button.on_click(self._on_simple(lambda: m.move_panel(+1)))
        for w, key in (
            (self.action, "action"),
            (self.location, "location"),
            (self.mood, "mood"),
            (self.camera, "camera"),
            (self.narrative, "narrative"),
            (self.sfx, "sfx"),
        ):
            w.observe(lambda ch, key=key: self._on_panel_field(key, ch), names="value")
        self.panel_characters.observe(self._on_panel_characters, names="value")
        self.add_line_button.on_click(self._on_simple(lambda: m.add_line()))
        self.write_dialogue_button.on_click(self._on_write_dialogue)
        for w in self.preset_selects.values():
            w.observe(lambda ch: self._sync_prompt(), names="value")
        self.refresh_preview_button.on_click(self._on_simple(self.refresh_preview))

    def _on_simple(self, action: Any) -> Any:
        @busy_action
        def handler(view: PlanEditorView, button: widgets.Button) -> None:
            action()

        return lambda b: handler(self, b)

    # -- busy state and errors (storybench.ui_kit.busy) ----------------------------------
    def action_widgets(self) -> list[widgets.DOMWidget]:
        """Buttons disabled while an action runs (Stop is not one: it stays live)."""
        return [self.open_button, self.save_button, self.generate_button, self.write_dialogue_button]

    def refresh_controls(self) -> None:
        """Set the enabled state of every button :meth:`action_widgets` lists."""
        m = self.model
        busy = m.busy or m.generating
        self.open_button.disabled = busy
        self.save_button.disabled = busy or m.plan is None
        self.generate_button.disabled = busy
        self.write_dialogue_button.disabled = busy or m.plan is None
        self.generate_stop.disabled = not m.generating

    def _show_error(self, change: dict[str, Any]) -> None:
        msg = change["new"]
        self.error.value = f"<span style='color:#b00020'>⚠ {html.escape(msg)}</span>" if msg else ""

    def show_error(self, exc: BaseException) -> None:
        """Show an error message in the editor."""
        self.error.value = f"<span style='color:#b00020'>⚠ {html.escape(str(exc))}</span>"

    def clear_error(self) -> None:
        """Clear the error message."""
        self.model.error = ""
        self.error.value = ""

    # -- model → widgets -----------------------------------------------------------------
    def _on_model(self, event: str) -> None:
        self._sync()
        if (event in ("plan", "edit") and self.debounce is not None) or (
            event == "selection" and self.debounce is not None
        ):
            self.schedule_preview()

    def _sync(self) -> None:
        m = self.model
        self._syncing = True
        try:
            plans = [(p.name, str(p)) for p in m.list_plans()]
            if m.path is not None and str(m.path) not in {v for _, v in plans}:
                plans.append((f"{m.path.name} (new)", str(m.path)))
            self.plan_select.options = plans
            if m.path is not None:
                self.plan_select.value = str(m.path)
            n_issues = len(m.issues())
            if m.dirty:
                self.dirty_label.value = "<b style='color:#b35c00'>● unsaved</b>"
            elif n_issues:
                self.dirty_label.value = f"<b style='color:#b35c00'>saved, {n_issues} issue(s)</b>"
            else:
                self.dirty_label.value = "<span style='color:#2e7d32'>saved</span>"
            self.undo_button.disabled = not m.can_undo
            self.redo_button.disabled = not m.can_redo
            self._sync_status()
            self._sync_pending()
            has_plan = m.plan is not None
            for w in (
                self.save_button,
                self.add_character_button,
                self.add_page_button,
                self.add_panel_button,
                self.add_line_button,
            ):
                w.disabled = not has_plan
            if not has_plan:
                return
            plan = m.plan
            assert plan is not None
            # characters
            self.character_select.options = [(c.name, c.id) for c in plan.characters]
            self.character_select.value = m.character_id if m.character_id in {c.id for c in plan.characters} else None
            c = plan.character(m.character_id) if m.character_id else None
            for w, key in (
                (self.char_name, "name"),
                (self.char_appearance, "appearance"),
                (self.char_clothing, "clothing"),
                (self.char_role, "role"),
            ):
                w.value = getattr(c, key) if c else ""
                w.disabled = c is None
            self.char_seed.value = (c.seed or 0) if c else 0
            # navigation
            self.chapter_select.options = [(f"{i + 1}. {ch.title}", i) for i, ch in enumerate(plan.chapters)]
            self.chapter_select.value = m.chapter_index
            self.chapter_title.value = m.chapter.title
            self.page_select.options = [
                (f"page {pg.page_number} ({pg.layout})", i) for i, pg in enumerate(m.chapter.pages)
            ]
            self.page_select.value = m.page_index
            self.layout_select.value = m.page.layout
            self.panel_select.options = [(f"{p.position}: {p.action[:40]}", i) for i, p in enumerate(m.page.panels)]
            self.panel_select.value = m.panel_index
            # panel form
            pan = m.panel
            self.action.value = pan.action
            self.location.value = pan.location
            self.mood.value = pan.mood
            cams = list(CAMERA_SHOTS) + ([pan.camera] if pan.camera not in CAMERA_SHOTS else [])
            self.camera.options = cams
            self.camera.value = pan.camera
            self.narrative.value = pan.narrative or ""
            self.sfx.value = pan.sfx or ""
            speakers = [(ch.name, ch.id) for ch in plan.characters]
            self.panel_characters.options = speakers
            self.panel_characters.value = tuple(x for x in pan.characters if x in {i for _, i in speakers})
            self._sync_lines(speakers)
            self._sync_prompt()
            self._sync_issues()
            self._sync_focus()
        finally:
            self._syncing = False

    def _sync_lines(self, speakers: list[tuple[str, str]]) -> None:
        lines = self.model.panel.dialogue
        while len(self.line_rows) < len(lines):
            self.line_rows.append(DialogueRow(self, len(self.line_rows)))
        rows = self.line_rows[: len(lines)]
        known = {i for _, i in speakers}
        for row, line in zip(rows, lines, strict=True):
            row.speaker.options = speakers + (
                [(f"? {line.character}", line.character)] if line.character not in known else []
            )
            row.speaker.value = line.character
            row.text.value = line.text
            row.up.disabled = row.index == 0
            row.down.disabled = row.index == len(lines) - 1
        self.dialogue_box.children = tuple(rows)

    def _sync_pending(self) -> None:
        p = self.model.pending
        if p is None:
            self.pending_box.layout.display = "none"
            self.pending_buttons = {}
            self.pending_box.children = (self.pending_message,)
            return
        self.pending_message.value = f"<b>{html.escape(p.message)}</b>"
        self.pending_buttons = {}
        for choice in p.choices:
            b = _button(p.labels.get(choice, choice), "pending-choice")
            b.on_click(lambda btn, choice=choice: self._on_pending(btn, choice))
            self.pending_buttons[choice] = b
        self.pending_box.children = (self.pending_message, *self.pending_buttons.values())
        self.pending_box.layout.display = "flex"

    def _sync_status(self) -> None:
        m = self.model
        if m.status_level == "warning":
            items = "".join(f"<li>{html.escape(issue_words(m.plan, i))}</li>" for i in m.issues())
            self.status.value = (
                f"<div class='sb-editor-warning' style='color:#8a4b00;background:#fff4e0;padding:4px 8px'>"
                f"⚠ {html.escape(m.status)}<ul style='margin:2px 0'>{items}</ul></div>"
            )
        elif m.path is not None and m.status.startswith("saved ") and str(m.path) in m.status:
            head, _, tail = m.status.partition(str(m.path))
            self.status.value = html.escape(head) + file_link(m.path) + html.escape(tail)
        else:
            self.status.value = html.escape(m.status)

    def _show_llm_note(self) -> None:
        picked = self.model_picker.value or ""
        if picked:
            backend, _, model = picked.partition("|")
            builtin = backend == "llamacpp" and not model
        else:
            name = self.llm_name.value.strip() or (None if self.model.llm is not None else _default_llm())
            builtin = name == "llamacpp"
        note = f"<span style='color:#8a5a00;font-size:12px'><b>Note:</b> {html.escape(BUILTIN_HINT)}</span>"
        self.llm_note.value = note if builtin else ""

    def _picked_llm(self) -> Any:
        """The LLM of a generation: the Model list's pick, else the LLM field's backend name."""
        picked = self.model_picker.value or ""
        if not picked:
            return self.llm_name.value.strip() or None
        backend, _, model = picked.partition("|")
        return get_llm_backend(backend, **({"model": model} if model else {}))

    def _sync_issues(self) -> None:
        buttons = []
        for issue in [*self.model.issues(), *self.model.lettering_warnings()]:
            b = _button(issue_words(self.model.plan, issue), "issue", "exclamation-triangle")
            b.on_click(lambda btn, path=issue.path: self._on_issue(btn, path))
            b.issue_path = issue.path
            buttons.append(b)
        self.issue_buttons = buttons
        self.issues_box.children = (
            tuple(buttons) if buttons else (widgets.HTML("<span style='color:#2e7d32'>no issues</span>"),)
        )

    def _focus_widget(self) -> widgets.DOMWidget | None:
        focus = self.model.focus or ""
        head = focus.split(".")[0].split("[")[0]
        if head == "dialogue":
            try:
                i = int(focus.split("[")[1].split("]")[0])
                return self.line_rows[i].text if i < len(self.line_rows) else None
            except (IndexError, ValueError):
                return None
        table = {
            "action": self.action,
            "location": self.location,
            "mood": self.mood,
            "camera": self.camera,
            "narrative": self.narrative,
            "sfx": self.sfx,
            "characters": self.panel_characters,
            "panels": self.layout_select,
            "pageNumber": self.page_select,
            "layout": self.layout_select,
            "title": self.chapter_title,
            "name": self.char_name,
            "appearance": self.char_appearance,
            "clothing": self.char_clothing,
            "role": self.char_role,
        }
        return table.get(head)

    def _sync_focus(self) -> None:
        target = self._focus_widget()
        for w in (
            self.action,
            self.location,
            self.mood,
            self.camera,
            self.narrative,
            self.sfx,
            self.panel_characters,
            self.layout_select,
            self.page_select,
            self.chapter_title,
            self.char_name,
            self.char_appearance,
            self.char_clothing,
            self.char_role,
            *(r.text for r in self.line_rows),
        ):
            if target is not None and w is target:
                w.add_class("sb-editor-focus")
            else:
                w.remove_class("sb-editor-focus")
        if target is not None:
            focus = self.model.focus or ""
            self.tabs.selected_index = (
                1 if focus.split(".")[0].split("[")[0] in ("name", "appearance", "clothing", "role") else 0
            )
            target.focus()

    def _sync_prompt(self) -> None:
        if self.model.plan is None:
            return
        chosen = {cat: w.value or None for cat, w in self.preset_selects.items()}
        try:
            result = self.model.enhanced_prompt(**chosen)
            self.enhanced_prompt.value = result.prompt + (f"\n\nnegative: {result.negative}" if result.negative else "")
        except Exception as exc:
            self.enhanced_prompt.value = f"(no prompt: {exc})"

    # -- preview ----------------------------------------------------------------------------
    def schedule_preview(self) -> None:
        """Redraw the preview after ``debounce`` seconds of quiet (restarts the timer)."""
        if self.debounce is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(self.debounce, self._timed_preview)
        self._timer.daemon = True
        self._timer.start()

    def _timed_preview(self) -> None:
        try:
            self.refresh_preview()
        except Exception as exc:
            self.preview_message.value = html.escape(f"preview failed: {exc}")

    def refresh_preview(self) -> None:
        """Redraw the page preview now (synchronously)."""
        image, message = self.model.page_preview(self.preview_width)
        if image is None:
            self.preview_message.value = html.escape(message)
            return
        buf = io.BytesIO()
        image.convert("RGB").save(buf, format="PNG")
        self.preview_image.value = buf.getvalue()
        self.preview_message.value = ""

    def close(self) -> None:
        """Stop the preview timer and close the widgets."""
        if self._timer is not None:
            self._timer.cancel()
        self.model.unobserve(self._on_model)
        super().close()

    # -- handlers (widgets → model) ---------------------------------------------------------
    @busy_action
    def _on_open(self, button: widgets.Button) -> None:
        if self.plan_select.value:
            self.model.open_plan(Path(self.plan_select.value))

    @busy_action
    def _on_save(self, button: widgets.Button) -> None:
        self.model.save()

    @busy_action
    def _on_undo(self, button: widgets.Button) -> None:
        self.model.undo()

    @busy_action
    def _on_redo(self, button: widgets.Button) -> None:
        self.model.redo()

    @busy_action
    def _on_pending(self, button: widgets.Button, choice: str) -> None:
        self.model.resolve(choice)

    @busy_action
    def _on_issue(self, button: widgets.Button, path: str) -> None:
        self.model.goto(path)

    @busy_action
    def _on_generate(self, button: widgets.Button) -> Any:
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
                    llm=self._picked_llm(),
                    on_progress=on_progress,
                )
            finally:
                m.generating = False
                unregister()

        return in_background(run, name="plan-generate") if self.background else run()

    @busy_action
    def _on_character_select(self, change: dict) -> None:
        self.model.select_character(change["new"])

    @busy_action
    def _on_character_field(self, key: str, change: dict) -> None:
        if self.model.character_id:
            self.model.update_character(self.model.character_id, **{key: change["new"]})

    @busy_action
    def _on_new_seed(self, button: widgets.Button) -> None:
        if self.model.character_id:
            self.model.regenerate_seed(self.model.character_id)

    @busy_action
    def _on_pin_seed(self, button: widgets.Button) -> None:
        if self.model.character_id:
            self.model.pin_seed(self.model.character_id, int(self.char_seed.value))

    @busy_action
    def _on_add_character(self, button: widgets.Button) -> None:
        self.model.add_character("New character", appearance="describe face, hair, build, age")

    @busy_action
    def _on_remove_character(self, button: widgets.Button) -> None:
        if self.model.character_id:
            self.model.remove_character(self.model.character_id, on_used="ask")

    @busy_action
    def _on_chapter_select(self, change: dict) -> None:
        if change["new"] is not None:
            self.model.select(chapter=change["new"])

    @busy_action
    def _on_chapter_title(self, change: dict) -> None:
        self.model.rename_chapter(change["new"])

    @busy_action
    def _on_page_select(self, change: dict) -> None:
        if change["new"] is not None:
            self.model.select(page=change["new"])

    @busy_action
    def _on_layout(self, change: dict) -> None:
        if change["new"]:
            self.model.set_layout(change["new"], on_surplus="ask")

    @busy_action
    def _on_panel_select(self, change: dict) -> None:
        if change["new"] is not None:
            self.model.select(panel=change["new"])

    @busy_action
    def _on_panel_field(self, key: str, change: dict) -> None:
        self.model.update_panel(**{key: change["new"]})

    @busy_action
    def _on_panel_characters(self, change: dict) -> None:
        self.model.update_panel(characters=list(change["new"]))

    @busy_action
    def _on_line_speaker(self, index: int, change: dict) -> None:
        if change["new"]:
            self.model.update_line(index, speaker=change["new"])

    @busy_action
    def _on_line_text(self, index: int, change: dict) -> None:
        self.model.update_line(index, text=change["new"])

    @busy_action
    def _on_line_move(self, button: widgets.Button, index: int, delta: int) -> None:
        self.model.move_line(index, delta)

    @busy_action
    def _on_line_remove(self, button: widgets.Button, index: int) -> None:
        self.model.remove_line(index)

    @busy_action
    def _on_write_dialogue(self, button: widgets.Button) -> None:
        self.model.write_panel_dialogue(self.dialogue_type.value, int(self.dialogue_lines.value))
