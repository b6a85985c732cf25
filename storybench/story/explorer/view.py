"""The story explorer's view: ipywidgets over an :class:`ExplorerModel`.

Layout (top to bottom), so the newest segment is where the writer looks: settings (an
accordion that folds away once a story is started: premise, language, style, LLM
backend and model, image backend, Start), a one-line note when the built-in tiny
model writes, the alert area and any open question (Overwrite / Save as new / Cancel),
the previous segment folded into the choice that was taken, the current segment (text
streaming in; its illustration as a thumbnail at most 320 px high beside it, full size
on click; its choice buttons — ⚡ marks one already written ahead), the actions
(Stop, Continue, Back, Regenerate, Retry image), file actions (path, Save, Load,
export kind, Export) with the last file as a link, and the branch tree.

Every widget has a stable CSS class ``sb-story-...``. Actions run through
:func:`~storybench.ui_kit.busy.busy_action`: buttons are disabled while they run (Stop
stays live) and errors show in the alert area.
"""

from __future__ import annotations

import base64
import html
import threading
from typing import Any

import ipywidgets as w

from storybench.llm.base import llm_backend_names
from storybench.llm.discovery import BUILTIN_HINT, FoundModel, discover_models
from storybench.plan.styles import STYLES
from storybench.render.base import image_backend_names
from storybench.story.explorer.model import ExplorerModel
from storybench.story.export import EXPORT_KINDS
from storybench.story.model import Segment
from storybench.ui_kit.busy import busy_action
from storybench.ui_kit.links import file_link

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
.sb-story-explorer{max-width:60rem}
.sb-story-explorer .sb-story-text{font-family:Georgia,serif;font-size:15px;line-height:1.5;max-width:46rem}
.sb-story-explorer .sb-story-text p{margin:0 0 .6em 0}
.sb-story-thumb{max-height:320px;max-width:100%;border-radius:4px;cursor:zoom-in;display:block}
.sb-story-thumb:focus{max-height:none;cursor:zoom-out;outline:2px solid #8ab}
.sb-story-spinner{width:28px;height:28px;border:4px solid #ddd;border-top-color:#555;border-radius:50%;
  animation:sb-spin 1s linear infinite;margin:1rem auto}
@keyframes sb-spin{to{transform:rotate(360deg)}}
.sb-story-placeholder{width:240px;height:160px;background:#eee;display:flex;flex-direction:column;
  align-items:center;justify-content:center;color:#666;font-size:13px}
.sb-story-previous{color:#555;font-size:13px;border-left:3px solid #ccd;padding:2px 8px;margin:4px 0}
.sb-story-taken{font-weight:bold;color:#345}
.sb-story-explorer .sb-story-choice{height:auto;min-height:30px;white-space:normal;text-align:left}
.sb-story-choice-ready{border-left:4px solid #6a6 !important}
.sb-story-tree{max-height:320px;overflow-y:auto}
.sb-story-explorer .sb-story-node{height:22px;line-height:20px;font-size:12px;padding:0 6px;margin:1px 0;
  text-align:left;max-width:100%}
.sb-story-node-path{background:#dde9f7 !important}
.sb-story-node-current{font-weight:bold;border:1px solid #35a !important}
.sb-story-node-unvisited{opacity:.55;font-style:italic}
.sb-story-builtin-note{color:#8a5a00;font-size:12px}
.sb-story-unfinished-note{color:#8a5a00;font-size:13px}
.sb-story-pending{background:#fff6e0;padding:4px 8px;border-radius:4px;flex-wrap:wrap}
.sb-story-explorer .widget-hbox{flex-wrap:wrap}
</style>"""


def _paragraphs_html(text: str, cursor: bool = False) -> str:
    paras = [p.strip() for p in text.replace("\r", "").split("\n\n") if p.strip()]
    body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paras)
    return body + ("<span class='sb-story-cursor'>▍</span>" if cursor else "")


def _classed(widget: w.DOMWidget, *classes: str) -> Any:
    for c in classes:
        widget.add_class(c)
    return widget


def _model_options(found: list[FoundModel]) -> list[tuple[str, str]]:
    return [(f"{m.label} · {m.source}" if not m.builtin else m.label, f"{m.backend}|{m.model}") for m in found]


class StoryExplorer(w.VBox):
    """The branching-story explorer.

    Args:
        model: the explorer model (a new :class:`ExplorerModel` when ``None``).
        models: the LLMs offered in the Model picker (default: :func:`discover_models`
            when the view is built).
        **kwargs: passed to :class:`ipywidgets.VBox`.
    """

    def __init__(
        self, model: ExplorerModel | None = None, *, models: list[FoundModel] | None = None, **kwargs: Any
    ) -> None:
        self.model = model if model is not None else ExplorerModel()
        m = self.model
        self._shown_id: str | None = None
        self._shown_choices: tuple[str, ...] = ()
        self._refresh_lock = threading.RLock()  # revisions come from the generation and prefetch threads too
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
        found = models if models is not None else discover_models(timeout=0.3)
        options = [("(backend default)", ""), *_model_options(found)]
        self.model_picker = _classed(
            w.Dropdown(
                options=options, value="", description="Model", layout=w.Layout(width="auto", max_width="32rem")
            ),
            "sb-story-model",
        )
        self.image_backend = _classed(
            w.Dropdown(
                options=self._names(image_backend_names(), m.image_backend), value=m.image_backend, description="Images"
            ),
            "sb-story-image-backend",
        )
        self.start = _classed(
            w.Button(description="Start", icon="play", button_style="primary", layout=w.Layout(width="auto")),
            "sb-story-start",
        )
        self.builtin_note = _classed(w.HTML(""), "sb-story-builtin-note")
        self.alert = _classed(w.HTML(""), "sb-story-alert")
        self.pending_message = _classed(w.HTML(""), "sb-story-pending-message")
        self.pending_box = _classed(w.HBox([self.pending_message]), "sb-story-pending")
        self.pending_box.layout.display = "none"
        self.pending_buttons: dict[str, w.Button] = {}
        self.previous = _classed(w.HTML(""), "sb-story-previous-box")
        self.text = _classed(w.HTML(""), "sb-story-text")
        self.image = _classed(w.HTML("", layout=w.Layout(max_width="100%")), "sb-story-image")
        self.unfinished_note = _classed(w.HTML(""), "sb-story-unfinished-note")
        self.choices = _classed(w.VBox([]), "sb-story-choices")
        self.stop = _classed(
            w.Button(
                description="Stop", icon="stop", button_style="danger", layout=w.Layout(width="auto"), disabled=True
            ),
            "sb-story-stop",
        )
        self.continue_ = _classed(
            w.Button(description="Continue", icon="forward", layout=w.Layout(width="auto")), "sb-story-continue"
        )
        self.back = _classed(
            w.Button(description="Back", icon="arrow-left", layout=w.Layout(width="auto")), "sb-story-back"
        )
        self.regenerate = _classed(
            w.Button(description="Regenerate", icon="refresh", layout=w.Layout(width="auto")), "sb-story-regenerate"
        )
        self.retry_image = _classed(
            w.Button(description="Retry image", icon="image", layout=w.Layout(width="auto")), "sb-story-retry-image"
        )
        self.tree = _classed(w.VBox([]), "sb-story-tree")
        self.path = _classed(
            w.Text(
                value="",
                placeholder="story.json path (empty: the story's own file)",
                layout=w.Layout(flex="1 1 16rem", min_width="12rem"),
            ),
            "sb-story-path",
        )
        self.save = _classed(w.Button(description="Save", icon="save", layout=w.Layout(width="auto")), "sb-story-save")
        self.load = _classed(
            w.Button(description="Load", icon="folder-open", layout=w.Layout(width="auto")), "sb-story-load"
        )
        self.export_kind = _classed(
            w.Dropdown(
                options=list(EXPORT_KINDS),
                value="twee",
                layout=w.Layout(width="10rem"),
            ),
            "sb-story-export-kind",
        )
        self.export = _classed(
            w.Button(description="Export", icon="download", layout=w.Layout(width="auto")), "sb-story-export"
        )
        self.status = _classed(w.HTML(""), "sb-story-status")
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
        self.model_picker.observe(self._on_pick_model, "value")

        self.start.on_click(lambda _: self.on_start())
        self.stop.on_click(lambda _: self.on_stop())
        self.continue_.on_click(lambda _: self.on_continue())
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
        m.observe(lambda _: self._show_status(), ["status", "status_path"])
        m.observe(lambda _: self._show_pending(), "pending")
        m.observe(lambda _: self.refresh_controls(), ["generating", "busy"])
        m.observe(lambda _: self._show_builtin_note(), ["llm_backend", "llm_model"])

        settings_box = _classed(
            w.VBox(
                [
                    self.premise,
                    _classed(w.HBox([self.language, self.style, self.image_backend]), "sb-story-settings-row"),
                    _classed(w.HBox([self.llm, self.model_picker]), "sb-story-backends-row"),
                ]
            ),
            "sb-story-settings",
        )
        self.settings = _classed(
            w.Accordion(children=[settings_box], titles=("Story settings",)), "sb-story-settings-box"
        )
        self.settings.selected_index = 0
        nav = _classed(
            w.HBox([self.stop, self.continue_, self.back, self.regenerate, self.retry_image]), "sb-story-nav"
        )
        segment = _classed(
            w.HBox(
                [
                    _classed(
                        w.VBox([self.text, self.unfinished_note], layout=w.Layout(flex="2 1 22rem")),
                        "sb-story-text-col",
                    ),
                    _classed(w.VBox([self.image], layout=w.Layout(flex="1 1 14rem")), "sb-story-image-col"),
                ]
            ),
            "sb-story-segment",
        )
        files = _classed(w.HBox([self.path, self.save, self.load, self.export_kind, self.export]), "sb-story-files")
        tree_box = _classed(w.Accordion(children=[self.tree], titles=("Branches",)), "sb-story-tree-box")
        super().__init__(
            [
                _classed(w.HTML(_CSS), "sb-story-css"),
                self.settings,
                _classed(w.HBox([self.start, self.builtin_note]), "sb-story-start-row"),
                self.alert,
                self.pending_box,
                self.previous,
                segment,
                self.choices,
                nav,
                files,
                self.status,
                tree_box,
            ],
            **kwargs,
        )
        self.add_class("sb-story-explorer")
        self._show_builtin_note()
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

    def _on_pick_model(self, change: dict[str, Any]) -> None:
        value = change["new"] or ""
        if not value:
            self.model.llm_model = ""
            return
        backend, _, name = value.partition("|")
        self.model.llm_backend = backend
        self.model.llm_model = name

    def _show_builtin_note(self) -> None:
        self.builtin_note.value = f"<b>Note:</b> {html.escape(BUILTIN_HINT)}" if self.model.uses_builtin_llm() else ""

    def action_widgets(self) -> list[w.DOMWidget]:
        """Widgets disabled while an action runs (Stop is not one: it stays live)."""
        return [
            self.start,
            self.continue_,
            self.back,
            self.regenerate,
            self.retry_image,
            self.save,
            self.load,
            self.export,
            *self.choice_buttons,
            *self.node_buttons,
            *self.pending_buttons.values(),
        ]

    def refresh_controls(self) -> None:
        """Enable the buttons that make sense now (only Stop while generating)."""
        m = self.model
        cur = m.current
        has_story = m.story is not None and cur is not None
        busy = m.busy or m.generating
        self.stop.disabled = not m.generating
        self.start.disabled = busy
        self.load.disabled = busy
        self.back.disabled = busy or not m.can_go_back()
        self.regenerate.disabled = busy or not has_story
        self.continue_.disabled = busy or cur is None or not cur.unfinished
        self.continue_.layout.display = None if cur is not None and cur.unfinished else "none"
        self.retry_image.disabled = busy or cur is None or cur.image_status != "failed"
        self.save.disabled = busy or not has_story
        self.export.disabled = busy or not has_story
        for b in self.choice_buttons + self.node_buttons + list(self.pending_buttons.values()):
            b.disabled = busy

    def _show_error(self, change: dict[str, Any]) -> None:
        msg = change["new"]
        self.alert.value = (
            f"<div class='sb-story-error' style='color:#a40000;background:#fde8e8;padding:6px 10px;"
            f"border-radius:4px'>⚠ {html.escape(msg)}</div>"
            if msg
            else ""
        )

    def _show_status(self) -> None:
        m = self.model
        if m.status_path and m.status.endswith(m.status_path):
            head = m.status[: -len(m.status_path)]
            self.status.value = html.escape(head) + file_link(m.status_path)
        else:
            self.status.value = html.escape(m.status)

    def _show_pending(self) -> None:
        p = self.model.pending
        if p is None:
            self.pending_box.layout.display = "none"
            self.pending_buttons = {}
            self.pending_box.children = (self.pending_message,)
            return
        self.pending_message.value = f"<b>{html.escape(p.message)}</b>"
        self.pending_buttons = {}
        for choice in p.choices:
            b = _classed(
                w.Button(description=p.label(choice), layout=w.Layout(width="auto")), "sb-story-pending-choice"
            )
            b.add_class(f"sb-story-pending-{choice}")
            b.on_click(lambda _, choice=choice: self.on_resolve(choice))
            self.pending_buttons[choice] = b
        self.pending_box.children = (self.pending_message, *self.pending_buttons.values())
        self.pending_box.layout.display = "flex"

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
            alt = html.escape(seg.illustration_prompt)
            self.image.value = (
                f"<img src='data:image/png;base64,{data}' class='sb-story-thumb' tabindex='0' alt='{alt}' "
                f"title='{alt} (click: full size)'>"
            )
        elif seg.image_status == "failed":
            self.image.value = (
                "<div class='sb-story-placeholder sb-story-image-failed'>Illustration failed: "
                f"{html.escape(seg.image_error)}</div>"
            )
        elif seg.unfinished:
            self.image.value = ""
        else:
            self.image.value = (
                "<div class='sb-story-placeholder sb-story-image-pending'><div class='sb-story-spinner'></div>"
                f"{'rendering' if seg.image_status == 'rendering' else 'waiting'}…</div>"
            )
        self.refresh_controls()

    def _show_previous(self, seg: Segment | None) -> None:
        story = self.model.story
        if seg is None or story is None or seg.parent_id is None:
            self.previous.value = ""
            return
        parent = story.segment(seg.parent_id)
        paras = [p.strip() for p in parent.text.split("\n\n") if p.strip()]
        last = paras[-1] if paras else ""
        if len(last) > 240:
            last = "…" + last[-240:]
        self.previous.value = (
            f"<div class='sb-story-previous'>{html.escape(last)}<br>"
            f"<span class='sb-story-taken'>➜ {html.escape(seg.choice_text)}</span></div>"
        )

    def _choice_ready(self, seg: Segment, index: int) -> bool:
        engine = self.model.engine
        return engine is not None and engine.prefetched(seg.id, index) is not None

    def refresh(self) -> None:
        """Show the current segment, its choices and the branch tree."""
        with self._refresh_lock:
            self._refresh()

    def _refresh(self) -> None:
        m = self.model
        seg = m.current
        if not m.generating or not m.streaming_text:
            self.text.value = _paragraphs_html(seg.text) if seg is not None else ""
        self._show_previous(seg)
        self.unfinished_note.value = (
            "<span>Stopped before the end: Continue writes the rest, Regenerate writes it anew.</span>"
            if seg is not None and seg.unfinished
            else ""
        )
        key = (seg.id if seg is not None else None, tuple(seg.choices) if seg is not None else ())
        if key != (self._shown_id, self._shown_choices):
            self._shown_id, self._shown_choices = key
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
                        f"sb-story-choice-{i + 1}",
                    )
                    b.on_click(lambda _, i=i: self.on_choose(i))
                    self.choice_buttons.append(b)
            self.choices.children = tuple(self.choice_buttons)
        if seg is not None:
            for i, b in enumerate(self.choice_buttons):
                if self._choice_ready(seg, i):
                    b.add_class("sb-story-choice-ready")
                    b.icon = "bolt"
                else:
                    b.remove_class("sb-story-choice-ready")
                    b.icon = ""
        self._refresh_tree()
        self._show_image()
        self.refresh_controls()

    def _refresh_tree(self) -> None:
        m = self.model
        self.node_buttons = []
        for depth, node, on_path, is_current in m.tree():
            b = w.Button(
                description=m.node_label(node)[:70],
                tooltip=node.text[:200],
                layout=w.Layout(width="auto", margin=f"0 0 0 {min(depth, 12) * 1.2}em"),
            )
            _classed(b, "sb-story-node")
            if on_path:
                b.add_class("sb-story-node-path")
            if is_current:
                b.add_class("sb-story-node-current")
            if not node.visited:
                b.add_class("sb-story-node-unvisited")
            b.on_click(lambda _, sid=node.id: self.on_goto(sid))
            self.node_buttons.append(b)
        self.tree.children = tuple(self.node_buttons)

    # ------------------------------------------------------------ actions
    @busy_action
    def on_start(self) -> Any:
        """Start a new story from the settings."""
        self.text.value = ""
        self.path.value = ""
        result = self.model.submit(self.model.start)
        self.settings.selected_index = None
        return result

    @busy_action
    def on_choose(self, index: int) -> Any:
        """Follow a choice of the current segment."""
        return self.model.submit(self.model.choose, index)

    def on_stop(self) -> None:
        """Stop the generation (not a busy action: it must work while one runs)."""
        self.model.stop()

    @busy_action
    def on_continue(self) -> Any:
        """Finish the unfinished current segment."""
        return self.model.submit(self.model.continue_segment)

    @busy_action
    def on_back(self) -> None:
        """Go to the parent segment."""
        self.model.back()

    @busy_action
    def on_regenerate(self) -> Any:
        """Write a new version of the current segment."""
        return self.model.submit(self.model.regenerate)

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
        """Save to the story's own file, or to the path field's file (asks before writing
        over another story)."""
        written = self.model.save(self.path.value.strip() or None)
        if not hasattr(written, "choices"):
            self.path.value = str(written)

    @busy_action
    def on_resolve(self, choice: str) -> None:
        """Answer the open question."""
        written = self.model.resolve(choice)
        if written is not None:
            self.path.value = str(written)

    @busy_action
    def on_load(self) -> None:
        """Load the story file named in the path field."""
        target = self.path.value.strip()
        if not target:
            raise ValueError("write the path of a story.json file in the path field, then press Load")
        self.model.load(target)
        self.settings.selected_index = None

    @busy_action
    def on_export(self) -> None:
        """Export in the chosen format into the story folder."""
        self.model.export(self.export_kind.value)
