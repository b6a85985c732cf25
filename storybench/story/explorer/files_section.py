"""The explorer's file sections: the story's title and files, and the library of saved stories.

* :class:`FilesSection`: the title (written by the LLM after a Start, editable), the
  path field, Save, Load, the export format and Export, the status line and every file
  saved or exported for this story, each a link that opens in JupyterLab
  (:func:`~storybench.ui_kit.links.file_link`);
* :class:`LibrarySection`: the stories saved under the output root (title, premise,
  last change, size of the tree), newest first; a click opens one.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w

from storybench.story.explorer.model import ExplorerModel
from storybench.story.explorer.settings_section import classed
from storybench.story.export import EXPORT_KINDS
from storybench.story.library import StoryEntry
from storybench.ui_kit.binding import Section, bind
from storybench.ui_kit.collapsible import Collapsible
from storybench.ui_kit.links import file_link

__all__ = ["FilesSection", "LibrarySection"]

_LABEL = {"description_width": "5.5rem"}


class FilesSection(Section):
    """Title, path, Save / Load / Export and the files written (see the module doc).

    Args:
        model: the explorer model.
        actions: the app's handlers by name (``save``, ``load``, ``export``).
    """

    follows = ("status", "status_path", "files")

    def __init__(self, model: ExplorerModel, actions: dict[str, Callable[[], Any]]) -> None:
        self.title = classed(
            w.Text(description="Title", placeholder="written after the opening; edit it to rename", style=_LABEL),
            "sb-story-title",
        )
        bind(model, "title", self.title)
        self.path = classed(
            w.Text(
                description="Story file",
                placeholder="story.json path (empty: the story's own file)",
                style=_LABEL,
                layout=w.Layout(flex="1 1 16rem", min_width="12rem"),
            ),
            "sb-story-path",
        )
        self.save = classed(w.Button(description="Save", icon="save", layout=w.Layout(width="auto")), "sb-story-save")
        self.load = classed(
            w.Button(description="Load", icon="folder-open", layout=w.Layout(width="auto")), "sb-story-load"
        )
        self.export_kind = classed(
            w.Dropdown(
                options=list(EXPORT_KINDS), value="twee", description="Format", style={"description_width": "3.5rem"}
            ),
            "sb-story-export-kind",
        )
        self.export = classed(
            w.Button(description="Export", icon="download", layout=w.Layout(width="auto")), "sb-story-export"
        )
        for name, b in (("save", self.save), ("load", self.load), ("export", self.export)):
            b.on_click(lambda _, name=name: actions[name]())
        self.status = classed(w.HTML(""), "sb-story-status")
        self.file_list = classed(w.HTML(""), "sb-story-files-written")
        row = classed(w.HBox([self.path, self.save, self.load, self.export_kind, self.export]), "sb-story-files")
        super().__init__(model, [self.title, row, self.status, self.file_list], css=["sb-story-files-section"])

    def update(self) -> None:
        """Redraw the status line and the list of files."""
        self.show_status()
        self.show_files()

    def show_status(self) -> None:
        """The status line, its file as a link (``role=status``: read out when it changes)."""
        m = self.model
        if m.status_path and m.status.endswith(m.status_path):
            body = html.escape(m.status[: -len(m.status_path)]) + file_link(m.status_path)
        else:
            body = html.escape(m.status)
        self.status.value = f"<div role='status' aria-live='polite'>{body}</div>" if body else ""

    def show_files(self) -> None:
        """Every file saved or exported for this story, newest last, as links."""
        files = self.model.files
        if not files:
            self.file_list.value = ""
            return
        items = "".join(f"<li>{file_link(f, Path(f).name)}</li>" for f in files)
        self.file_list.value = f"<div class='sb-story-written'>Files of this story:<ul>{items}</ul></div>"

    def refresh_controls(self, has_story: bool, busy: bool) -> None:
        """Enable Save and Export with a story, Load when idle."""
        self.load.disabled = busy
        self.save.disabled = busy or not has_story
        self.export.disabled = busy or not has_story
        self.title.disabled = busy or not has_story


class LibrarySection(Collapsible):
    """The saved stories (see the module doc).

    Args:
        model: the explorer model.
        on_open: called with a story file's path when its entry is pressed.
    """

    def __init__(self, model: ExplorerModel, on_open: Callable[[Path], Any]) -> None:
        self.model = model
        self._on_open = on_open
        self.refresh = classed(
            w.Button(description="Refresh list", icon="refresh", layout=w.Layout(width="auto")),
            "sb-story-library-refresh",
        )
        self.refresh.on_click(lambda _: model.refresh_library())
        self.entries = classed(w.VBox([]), "sb-story-library-list")
        self.buttons: list[w.Button] = []
        body = classed(w.VBox([self.refresh, self.entries]), "sb-story-library-body")
        super().__init__("Saved stories", body, expanded=False)
        self.add_class("sb-story-library")
        model.observe(lambda _: self.update(), "library")
        self.observe(lambda change: model.refresh_library() if change["new"] else None, "expanded")

    def update(self) -> None:
        """One button per saved story: title, premise, last change, size of the tree."""
        self.buttons = [self._entry(e) for e in self.model.library]
        empty = classed(w.HTML("<i>No saved stories yet.</i>"), "sb-story-library-empty")
        self.entries.children = tuple(self.buttons) if self.buttons else (empty,)

    def _entry(self, entry: StoryEntry) -> w.Button:
        premise = entry.premise if len(entry.premise) <= 70 else entry.premise[:69] + "…"
        size = f"{entry.segments} segment{'s' if entry.segments != 1 else ''}"
        b = classed(
            w.Button(
                description=f"{entry.title} — {premise} · {entry.when()} · {size}",
                tooltip=f"Open {entry.path}",
                layout=w.Layout(width="auto", max_width="100%"),
            ),
            "sb-story-library-entry",
        )
        b.on_click(lambda _, path=entry.path: self._on_open(path))
        return b
