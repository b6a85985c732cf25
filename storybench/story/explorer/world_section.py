"""The explorer's World section and Context view.

:class:`WorldSection` (a collapsible "World"): the author's note and its depth, an
import row (a path and Import, or an upload of a card PNG/JSON/CharX or a world
file), and one row per entry: an Enabled checkbox named after the entry, its keys, and
its content (edited in place, saved when the field loses focus); the characters with
their looks. :class:`ContextSection` (a collapsible "Context") shows exactly what the
model received for the current segment: the token count against the budget, the
entries that fired and why (the key, or the semantic score), those dropped, the
summary used, the author's note, and every block in prompt order.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from storybench.story.context_record import ContextRecord
from storybench.story.explorer.model import ExplorerModel
from storybench.story.explorer.settings_section import classed
from storybench.ui_kit.binding import bind
from storybench.ui_kit.collapsible import Collapsible
from storybench.ui_kit.links import file_link
from storybench.world.model import WorldEntry

__all__ = ["CONTEXT_CSS", "ComicRow", "ContextSection", "WorldSection", "context_html"]

CONTEXT_CSS = """
.sb-story-context-tokens{font-weight:bold}
.sb-story-context-blocks{border-collapse:collapse;font-size:12px}
.sb-story-context-blocks td,.sb-story-context-blocks th{border:1px solid #ccc;padding:2px 6px;
  vertical-align:top;text-align:left}
.sb-story-world-keys{font-size:12px;color:#333}
.sb-story-explorer h2.sb-story-subheading{font-size:14px;margin:.6em 0 .2em 0}
"""

_BLOCK_NAMES = {
    "premise": "Premise",
    "world_before": "World info (before)",
    "summary": "Summary",
    "earlier": "Earlier segment",
    "segment": "Recent segment",
    "world_depth": "World info (at depth)",
    "author_note": "Author's note",
    "world_after": "World info (after)",
}


_H2 = '<h2 class="sb-story-subheading">'
"""Sub-headings of the sections: level 2 under the notebook's title (axe-core ``heading-order``)."""


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _items(css: str, rows: list[str]) -> str:
    return "".join(f'<li class="{css}">{row}</li>' for row in rows)


def _entries_html(r: ContextRecord) -> str:
    fired = [f"{_esc(f.title or f'entry {f.uid}')}: {_esc(f.reason)} ({f.tokens} tokens)" for f in r.fired]
    listed = _items("sb-story-context-fired", fired) or "<li>none</li>"
    out = f"{_H2}Entries that fired ({len(r.fired)})</h2><ul>{listed}</ul>"
    if r.dropped:
        dropped = [f"{_esc(d.title or f'entry {d.uid}')}: {_esc(d.reason)}" for d in r.dropped]
        items = _items("sb-story-context-dropped", dropped)
        out += f"{_H2}Entries left out ({len(r.dropped)})</h2><ul>{items}</ul>"
    return out


def _memory_html(r: ContextRecord) -> str:
    summary = next((b.text for b in r.blocks if b.kind == "summary"), "")
    used = f" (of {_esc(r.summary_of)}): {_esc(summary)}" if r.summary_of else ": none (the whole path was sent)"
    note = _esc(r.author_note) if r.author_note else "none"
    out = (
        f'<p class="sb-story-context-summary"><b>Summary used</b>{used}</p>'
        f'<p class="sb-story-context-note"><b>Author\'s note</b> (depth {r.author_note_depth}): {note}</p>'
    )
    return out + ("<p><b>Trimmed:</b> " + _esc("; ".join(r.trimmed)) + "</p>" if r.trimmed else "")


def context_html(record: ContextRecord | None, segment_texts: dict[str, str]) -> str:
    """The Context view's HTML for a record (``segment_texts``: segment texts by id)."""
    if record is None:
        return '<p class="sb-story-context-empty">No context recorded for this segment.</p>'
    r = record
    tokens = (
        f'<p class="sb-story-context-tokens">Tokens: {r.tokens} of {r.budget} '
        f"(context window {r.context_window}, counted by {_esc(r.counter)}); "
        f"world info {r.world_tokens} of {r.world_budget}</p>"
    )
    rows = "".join(
        f"<tr><td>{_esc(_BLOCK_NAMES.get(b.kind, b.kind))}</td><td>{_esc(b.source)}</td><td>{b.tokens}</td>"
        f"<td>{_esc((b.text or segment_texts.get(b.source, ''))[:400])}</td></tr>"
        for b in r.blocks
    )
    table = (
        '<table class="sb-story-context-blocks"><caption>What the model received, in order</caption>'
        f"<tr><th>Block</th><th>Source</th><th>Tokens</th><th>Text</th></tr>{rows}</table>"
    )
    continued = (
        f'<p class="sb-story-context-continues">Sent as the continuation of the request of {_esc(r.continues)}'
        " (unchanged, so the model's prompt cache reuses it), then that segment as the model's turn"
        " and the reader's choice.</p>"
        if r.continues
        else ""
    )
    return tokens + continued + _entries_html(r) + _memory_html(r) + table


class ContextSection(Collapsible):
    """What the model received for the current segment (see the module doc)."""

    def __init__(self, model: ExplorerModel) -> None:
        self.model = model
        self.view = classed(w.HTML(""), "sb-story-context")
        super().__init__("Context", self.view, expanded=False)
        self.add_class("sb-story-context-box")
        model.observe(lambda _: self.update(), ["revision", "world_revision"])
        self.update()

    def update(self) -> None:
        """Redraw from the current segment's record."""
        story = self.model.story
        texts = {s.id: s.text for s in story.segments.values()} if story is not None else {}
        self.view.value = context_html(self.model.context_record(), texts)


class WorldSection(Collapsible):
    """The world's entries and characters, import, and the author's note.

    Args:
        model: the explorer model.
        on_import: called (a busy action) when Import is pressed.
        on_upload: called (a busy action) with ``(bytes, file name)`` for an uploaded file.
    """

    def __init__(
        self, model: ExplorerModel, on_import: Callable[[], Any], on_upload: Callable[[bytes, str], Any]
    ) -> None:
        self.model = m = model
        self._on_upload = on_upload
        self.author_note = classed(
            w.Textarea(
                description="Author's note",
                placeholder="A note the model reads near the end of its context",
                layout=w.Layout(width="100%", height="50px"),
                style={"description_width": "7rem"},
            ),
            "sb-story-author-note",
        )
        self.author_note.continuous_update = False
        self.note_depth = classed(
            w.BoundedIntText(
                description="Note depth",
                min=0,
                max=50,
                style={"description_width": "7rem"},
                layout=w.Layout(width="12rem"),
            ),
            "sb-story-author-note-depth",
        )
        self.semantic = classed(
            w.Checkbox(description="Recall entries by meaning too (storybench[memory])", indent=False),
            "sb-story-world-semantic",
        )
        bind(m, "semantic_recall", self.semantic)
        bind(m, "author_note", self.author_note)
        bind(m, "author_note_depth", self.note_depth)
        self.path = classed(
            w.Text(
                description="World file",
                placeholder="a card (.png, .json, .charx) or a world .json",
                style={"description_width": "7rem"},
                layout=w.Layout(width="28rem"),
            ),
            "sb-story-world-path",
        )
        self.import_button = classed(w.Button(description="Import", icon="download"), "sb-story-world-import")
        self.import_button.on_click(lambda _: on_import())
        self.upload = classed(
            w.FileUpload(accept=".png,.json,.charx", multiple=False, description="Upload"), "sb-story-world-upload"
        )
        self.upload.observe(self._uploaded, "value")
        self.entries = classed(w.VBox([]), "sb-story-world-entries")
        self.characters = classed(w.HTML(""), "sb-story-world-characters")
        self.rows: dict[int, tuple[w.Checkbox, w.Textarea]] = {}
        body = classed(
            w.VBox(
                [
                    self.author_note,
                    self.note_depth,
                    classed(w.HBox([self.path, self.import_button, self.upload]), "sb-story-world-import-row"),
                    self.entries,
                    self.characters,
                ]
            ),
            "sb-story-world",
        )
        super().__init__("World", body, expanded=False)
        self.add_class("sb-story-world-box")
        m.observe(lambda _: self.update(), ["world_revision", "revision"])
        self.update()

    def action_widgets(self) -> list[w.DOMWidget]:
        """Widgets disabled while an action runs."""
        return [self.import_button, self.upload, *(c for row in self.rows.values() for c in row)]

    def _uploaded(self, change: dict[str, Any]) -> None:
        files = change["new"] or ()
        for f in files:
            self._on_upload(bytes(f["content"]), str(f["name"]))

    def _row(self, entry: WorldEntry) -> w.Widget:
        title = entry.comment or (entry.keys[0] if entry.keys else f"entry {entry.uid}")
        enabled = classed(
            w.Checkbox(value=entry.enabled, description=title[:60], indent=False), "sb-story-world-enabled"
        )
        keys = ", ".join(entry.keys) + (f" (and {', '.join(entry.secondary_keys)})" if entry.secondary_keys else "")
        shown = _esc(keys) or ("(constant)" if entry.constant else "(no keys)")
        keys_html = classed(w.HTML(f"Keys: {shown}"), "sb-story-world-keys")
        content = classed(
            w.Textarea(
                value=entry.content,
                description="Content",
                continuous_update=False,
                layout=w.Layout(width="100%", height="60px"),
            ),
            "sb-story-world-content",
        )
        uid = entry.uid
        enabled.observe(lambda ch: self.model.update_entry(uid, enabled=bool(ch["new"])), "value")
        content.observe(lambda ch: self.model.update_entry(uid, content=str(ch["new"])), "value")
        self.rows[uid] = (enabled, content)
        return classed(
            w.VBox([classed(w.HBox([enabled, keys_html]), "sb-story-world-entry-head"), content]),
            "sb-story-world-entry",
        )

    def update(self) -> None:
        """Redraw the entries and characters."""
        world = self.model.world
        self.rows = {}
        if world is None or not (world.entries or world.characters):
            self.entries.children = (
                classed(w.HTML("<p>No world yet: import a card or a world file.</p>"), "sb-story-world-empty"),
            )
            self.characters.value = ""
            return
        self.entries.children = tuple(self._row(e) for e in world.entries)
        people = "".join(f"<li><b>{_esc(c.name)}</b>: {_esc(c.description[:300])}</li>" for c in world.characters)
        self.characters.value = f"{_H2}Characters</h2><ul>{people}</ul>" if people else ""


class ComicRow(w.HBox):
    """ "Make a comic of this path" and a link to the plan it saved.

    Args:
        model: the explorer model (its ``comic_plan`` trait is the link).
        on_make: called (a busy action) when the button is pressed.
    """

    def __init__(self, model: ExplorerModel, on_make: Callable[[], Any]) -> None:
        self.model = model
        self.button = classed(
            w.Button(
                description="Make a comic of this path",
                icon="book",
                tooltip="Plan a comic of the path from the opening to this segment, saved beside the story",
                layout=w.Layout(width="auto"),
            ),
            "sb-story-make-comic",
        )
        self.button.on_click(lambda _: on_make())
        self.link = classed(w.HTML(""), "sb-story-comic-link")
        super().__init__([self.button, self.link])
        self.add_class("sb-story-comic-row")
        model.observe(lambda _: self.update(), "comic_plan")

    def update(self) -> None:
        """Show the link to the last plan made."""
        path = self.model.comic_plan
        self.link.value = f"Comic plan: {file_link(path)}" if path else ""
