"""The story explorer's view: section widgets over an :class:`ExplorerModel`.

Layout (top to bottom), so the newest segment is where the writer looks:

* :class:`~storybench.story.explorer.settings_section.SettingsSection` (premise,
  language, style, LLM and model, images), folded away once a story is started;
* the Start row with a note when the built-in tiny model writes;
* the alert (``role=alert``) and :class:`~storybench.ui_kit.question_view.QuestionView`
  for an open question, placed right above the file actions that raise it;
* :class:`~storybench.story.explorer.reading_section.SegmentSection`,
  :class:`~storybench.story.explorer.reading_section.ChoicesSection`,
  :class:`~storybench.story.explorer.reading_section.ActionsSection`;
* :class:`~storybench.story.explorer.files_section.FilesSection` (title, path, Save,
  Load, Export, the status and every file written, as links) and the
  :class:`~storybench.story.explorer.files_section.LibrarySection`;
* :class:`~storybench.story.explorer.tree_section.TreeSection`.

Each section redraws its own slice; this class owns the actions (run through
:func:`~storybench.ui_kit.busy.busy_action`: buttons disabled while they run, Stop
stays live, errors in the alert) and which controls are enabled. Every widget has a
stable CSS class ``sb-story-...``; collapsible headers are buttons with
``aria-expanded``, the current tree node has ``aria-current``
(:class:`~storybench.ui_kit.aria.AriaBridge`), focus shows a 3 px ring.
"""

from __future__ import annotations

import html
import threading
from pathlib import Path
from typing import Any

import ipywidgets as w

from storybench.llm.discovery import BUILTIN_HINT, FoundModel, discover_models
from storybench.story.explorer.files_section import FilesSection, LibrarySection
from storybench.story.explorer.model import ExplorerModel
from storybench.story.explorer.reading_section import ActionsSection, ChoicesSection, SegmentSection
from storybench.story.explorer.settings_section import LANGUAGE_OPTIONS, SettingsSection, classed
from storybench.story.explorer.tree_section import TREE_RULES, TreeSection
from storybench.story.explorer.world_section import CONTEXT_CSS, ComicRow, ContextSection, WorldSection
from storybench.ui_kit.a11y import alert_html, focus_css
from storybench.ui_kit.aria import COLLAPSE_RULES, AriaBridge
from storybench.ui_kit.busy import busy_action
from storybench.ui_kit.question_view import QUESTION_CSS, QuestionView

__all__ = ["LANGUAGE_OPTIONS", "StoryExplorer"]

_CSS = (
    """<style>
.sb-story-explorer{max-width:60rem}
.sb-story-explorer .sb-story-text{font-family:Georgia,serif;font-size:15px;line-height:1.5;max-width:46rem}
.sb-story-explorer .sb-story-text p{margin:0 0 .6em 0}
.sb-story-thumb{width:360px;max-width:100%;aspect-ratio:3/2;object-fit:contain;background:#eee;
  border-radius:4px;cursor:zoom-in;display:block}
.sb-story-thumb:focus{width:auto;aspect-ratio:auto;cursor:zoom-out}
.sb-story-spinner{width:28px;height:28px;border:4px solid #ddd;border-top-color:#555;border-radius:50%;
  animation:sb-spin 1s linear infinite;margin:1rem auto}
@keyframes sb-spin{to{transform:rotate(360deg)}}
.sb-story-placeholder{width:360px;max-width:100%;aspect-ratio:3/2;background:#eee;display:flex;flex-direction:column;
  align-items:center;justify-content:center;color:#444;font-size:13px}
.sb-story-previous{color:#444;font-size:13px;border-left:3px solid #ccd;padding:2px 8px;margin:4px 0}
.sb-story-taken{font-weight:bold;color:#345}
.sb-story-explorer .sb-story-choice{height:auto;min-height:30px;white-space:normal;text-align:left}
.sb-story-choice-ready{border-left:4px solid #6a6 !important}
.sb-story-tree{max-height:320px;overflow-y:auto}
.sb-story-explorer .sb-story-node{height:22px;line-height:20px;font-size:12px;padding:0 6px;margin:1px 0;
  text-align:left;max-width:100%}
.sb-story-node-path{background:#dde9f7 !important}
.sb-story-node-current{font-weight:bold;border:2px solid #1a56b0 !important}
.sb-story-node-unvisited{font-style:italic;color:#555 !important}
.sb-story-builtin-note{color:#6b4500;font-size:12px}
.sb-story-unfinished-note{color:#6b4500;font-size:13px}
.sb-story-explorer .widget-hbox{flex-wrap:wrap}
.sb-story-explorer .sb-collapse-header{font-weight:bold;justify-content:flex-start;width:auto}
.sb-story-explorer .sb-story-library-entry{height:auto;min-height:28px;white-space:normal;text-align:left}
.sb-story-error{color:#8f0000;background:#fde8e8;padding:6px 10px;border-radius:4px}
.sb-story-explorer .mod-primary:not(:disabled){background-color:#1559b0;color:#fff}
.sb-story-explorer .mod-danger:not(:disabled){background-color:#b3261e;color:#fff}
"""
    + QUESTION_CSS
    + CONTEXT_CSS
    + focus_css("sb-story-explorer")
    + "</style>"
)


class StoryExplorer(w.VBox):
    """The branching-story explorer.

    Args:
        model: the explorer model (a new :class:`ExplorerModel` when ``None``).
        models: the LLMs offered in the Model picker (default: :func:`discover_models`).
        **kwargs: passed to :class:`ipywidgets.VBox`.
    """

    def __init__(
        self, model: ExplorerModel | None = None, *, models: list[FoundModel] | None = None, **kwargs: Any
    ) -> None:
        self.model = m = model if model is not None else ExplorerModel()
        self._refresh_lock = threading.RLock()  # revisions come from the generation and prefetch threads too
        found = models if models is not None else discover_models(timeout=0.3)
        self.settings = SettingsSection(m, found)
        self.start = classed(
            w.Button(description="Start", icon="play", button_style="primary", layout=w.Layout(width="auto")),
            "sb-story-start",
        )
        self.start.on_click(lambda _: self.on_start())
        self.builtin_note = classed(w.HTML(""), "sb-story-builtin-note")
        self.alert = classed(w.HTML(""), "sb-story-alert")
        self.question = QuestionView(m, on_answer=self.on_resolve, prefix="sb-story")
        self.reading = SegmentSection(m)
        self.choice_section = ChoicesSection(m, self.on_choose)
        self.actions = ActionsSection(
            {
                "stop": self.on_stop,
                "continue": self.on_continue,
                "back": self.on_back,
                "regenerate": self.on_regenerate,
                "retry_image": self.on_retry_image,
            }
        )
        self.files = FilesSection(m, {"save": self.on_save, "load": self.on_load, "export": self.on_export})
        self.library = LibrarySection(m, self.on_open)
        self.tree_section = TreeSection(m, self.on_goto)
        self.world = WorldSection(m, self.on_import_world, self.on_upload_world)
        self.context = ContextSection(m)
        self.comic = ComicRow(m, self.on_make_comic)
        m.observe(lambda _: self.refresh(), "revision")
        m.observe(lambda _: self._show_image(), "image_revision")
        m.observe(lambda change: setattr(self.alert, "value", alert_html(change["new"], "sb-story-error")), "error")
        m.observe(lambda _: self.refresh_controls(), ["generating", "busy", "pending"])
        m.observe(lambda _: self._show_builtin_note(), ["llm_backend", "llm_model"])
        super().__init__(
            [
                classed(w.HTML(_CSS), "sb-story-css"),
                AriaBridge([*COLLAPSE_RULES, *TREE_RULES]),
                self.settings,
                self.world,
                classed(w.HBox([self.start, self.builtin_note]), "sb-story-start-row"),
                self.alert,
                self.reading,
                self.choice_section,
                self.actions,
                self.context,
                self.comic,
                self.question,
                self.files,
                self.library,
                self.tree_section,
            ],
            **kwargs,
        )
        self.add_class("sb-story-explorer")
        self._show_builtin_note()
        self.refresh()

    # ------------------------------------------------- the sections' widgets
    @property
    def choice_buttons(self) -> list[w.Button]:
        """The current segment's choice buttons."""
        return self.choice_section.buttons

    @property
    def node_buttons(self) -> list[w.Button]:
        """The branch tree's buttons."""
        return self.tree_section.buttons

    @property
    def pending_buttons(self) -> dict[str, w.Button]:
        """The open question's answer buttons, by answer."""
        return self.question.buttons

    # ----------------------------------------------------------- drawing
    def _show_builtin_note(self) -> None:
        self.builtin_note.value = f"<b>Note:</b> {html.escape(BUILTIN_HINT)}" if self.model.uses_builtin_llm() else ""

    def _show_image(self) -> None:
        self.reading.show_image()
        self.refresh_controls()

    def refresh(self) -> None:
        """Show the current segment, its choices and the branch tree."""
        with self._refresh_lock:
            self.reading.update()
            self.choice_section.update()
            self.tree_section.update()
            self._show_image()

    def action_widgets(self) -> list[w.DOMWidget]:
        """Widgets disabled while an action runs (Stop is not one: it stays live)."""
        a, f = self.actions, self.files
        return [
            self.start,
            a.continue_,
            a.back,
            a.regenerate,
            a.retry_image,
            f.save,
            f.load,
            f.export,
            *self.choice_buttons,
            *self.node_buttons,
            *self.library.buttons,
            *self.question.action_widgets(),
            *self.world.action_widgets(),
            self.comic.button,
        ]

    def refresh_controls(self) -> None:
        """Enable the buttons that make sense now (only Stop while generating)."""
        m = self.model
        busy = m.busy or m.generating
        self.start.disabled = busy
        self.actions.refresh_controls(m, busy)
        self.files.refresh_controls(m.story is not None and m.current is not None, busy)
        for b in self.choice_buttons + self.node_buttons + self.library.buttons + self.question.action_widgets():
            b.disabled = busy
        for widget in self.world.action_widgets():
            widget.disabled = busy
        self.comic.button.disabled = busy or m.current is None

    # ------------------------------------------------------------ actions
    @busy_action
    def on_start(self) -> Any:
        """Start a new story from the settings (the story on screen stays if it fails)."""

        def start() -> Any:
            segment = self.model.start()
            self.files.path.value = ""
            self.settings.expanded = False
            return segment

        return self.model.submit(start)

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
        over another story; the question opens right above the file actions, focused)."""
        written = self.model.save(self.files.path.value.strip() or None)
        if isinstance(written, Path):
            self.files.path.value = str(written)

    @busy_action
    def on_resolve(self, choice: str) -> None:
        """Answer the open question."""
        written = self.model.resolve(choice)
        if written is not None:
            self.files.path.value = str(written)

    @busy_action
    def on_load(self) -> None:
        """Load the story file named in the path field."""
        target = self.files.path.value.strip()
        if not target:
            raise ValueError("write the path of a story.json file in the path field, or open one from Saved stories")
        self.model.load(target)
        self.settings.expanded = False

    @busy_action
    def on_open(self, path: Path) -> None:
        """Open a story of the library."""
        self.model.load(path)
        self.files.path.value = str(path)
        self.settings.expanded = False

    @busy_action
    def on_import_world(self) -> None:
        """Import the card or world file named in the World section's path field."""
        target = self.world.path.value.strip()
        if not target:
            raise ValueError("write the path of a character card or a world file in the World file field")
        self.model.import_world(target)

    @busy_action
    def on_upload_world(self, data: bytes, name: str) -> None:
        """Import an uploaded card or world file."""
        self.model.import_world_bytes(data, name)

    @busy_action
    def on_make_comic(self) -> Any:
        """Plan a comic of the current path in the background; the plan is saved beside the story."""
        return self.model.submit(self.model.make_comic)

    @busy_action
    def on_export(self) -> None:
        """Export in the chosen format into the story folder."""
        self.model.export(self.files.export_kind.value)


def _alias(section: str, attr: str | None) -> property:
    def get(self: StoryExplorer) -> Any:
        owner = getattr(self, section)
        return owner if attr is None else getattr(owner, attr)

    return property(get, doc=f"The widget ``{section}.{attr}``." if attr else f"The ``{section}`` section.")


#: The sections' widgets under the names the view had before it was split into sections.
WIDGET_ALIASES: dict[str, tuple[str, str | None]] = {
    **{n: ("settings", n) for n in ("premise", "language", "style", "llm", "model_picker", "image_backend")},
    **{n: ("reading", n) for n in ("previous", "text", "image", "unfinished_note")},
    **{n: ("actions", n) for n in ("stop", "continue_", "back", "regenerate", "retry_image")},
    **{n: ("files", n) for n in ("path", "save", "load", "export_kind", "export", "status", "title")},
    "choices": ("choice_section", None),
    "tree": ("tree_section", "tree"),
    "pending_box": ("question", None),
    "pending_message": ("question", "message"),
}
for _name, (_section, _attr) in WIDGET_ALIASES.items():
    setattr(StoryExplorer, _name, _alias(_section, _attr))
