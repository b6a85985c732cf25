"""The explorer's world: the story's world info and characters, imported and edited, and
what the model received for the current segment.

:class:`WorldState` is mixed into :class:`~storybench.story.explorer.model.ExplorerModel`
(no ipywidgets). Before a story is started the world is a draft the next Start takes;
afterwards it is the story's own (:attr:`storybench.story.model.Story.world`, saved with
it). Every change bumps the ``world_revision`` trait. The author's note and its depth are
the ``author_note`` and ``author_note_depth`` traits, applied to the story's settings.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from storybench.story.context_record import ContextRecord
from storybench.world.importing import Imported, load_world_file, parse_world_bytes
from storybench.world.model import Character, World, WorldEntry

if TYPE_CHECKING:
    from storybench.story.engine import StoryEngine
    from storybench.story.model import Segment, Story

__all__ = ["WorldState", "merge_imported"]


def merge_imported(world: World | None, imported: Imported) -> World:
    """``world`` with an imported file's entries appended (uids renumbered) and its
    characters added (a character already there by name is replaced)."""
    base = world if world is not None else World(name=imported.world.name)
    if base.entries:
        merged = base.merged(imported.world)
    else:
        merged = base.model_copy(update={"entries": imported.world.entries})
    incoming: list[Character] = [*imported.world.characters]
    if imported.character is not None:
        incoming.append(imported.character)
    names = {c.name for c in incoming}
    characters = [c for c in merged.characters if c.name not in names] + incoming
    return merged.model_copy(update={"characters": characters})


class WorldState:
    """The world and context actions of the explorer model (a mixin; see the module doc)."""

    engine: StoryEngine | None
    world_revision: int
    author_note: str
    author_note_depth: int
    status: str
    status_path: str
    _draft_world: World | None = None

    if TYPE_CHECKING:

        @property
        def story(self) -> Story | None: ...

        @property
        def current(self) -> Segment | None: ...

    @property
    def world(self) -> World | None:
        """The story's world (the draft for the next Start before one is started)."""
        story = self.story
        return story.world if story is not None else self._draft_world

    def set_world(self, world: World | None) -> None:
        """Replace the world (saved with the story when one is open)."""
        engine = self.engine
        if engine is not None:
            with engine.session.lock:
                engine.story.world = world
                engine.session.changed()
        else:
            self._draft_world = world
        self.world_revision += 1

    def import_world(self, path: str | os.PathLike[str]) -> World:
        """Add a character card (PNG, JSON, CharX) or a world file (SillyTavern World Info,
        a character book, storybench's) to the world.

        Raises:
            WorldFormatError, WorldTooLargeError: not a file storybench reads (nothing changed).
            OSError: the file cannot be read.
        """
        imported = load_world_file(os.path.expanduser(os.fspath(path)))
        return self._take(imported, os.fspath(path))

    def import_world_bytes(self, data: bytes, name: str) -> World:
        """:meth:`import_world` for an uploaded file's bytes (``name``: its file name)."""
        stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        return self._take(parse_world_bytes(data, name, name=stem), name)

    def _take(self, imported: Imported, where: str) -> World:
        world = merge_imported(self.world, imported)
        self.set_world(world)
        count = f"{len(imported.world.entries)} entries"
        what = f"the card of {imported.character.name} and {count}" if imported.character else count
        self.status, self.status_path = f"Imported {what} from {where}", ""
        return world

    def _entry(self, uid: int) -> tuple[World, WorldEntry]:
        world = self.world
        if world is None:
            raise KeyError(f"no world entry {uid}: the story has no world")
        return world, world.entry(uid)

    def update_entry(self, uid: int, **fields: Any) -> WorldEntry:
        """Change fields of entry ``uid`` (``enabled``, ``content``, ``keys``, ``comment``...).

        Raises:
            KeyError: no such entry. pydantic.ValidationError: a value of the wrong type.
        """
        world, entry = self._entry(uid)
        changed = WorldEntry.model_validate({**entry.model_dump(), **fields})
        entries = [changed if e.uid == uid else e for e in world.entries]
        self.set_world(world.model_copy(update={"entries": entries}))
        return changed

    def remove_entry(self, uid: int) -> None:
        """Remove entry ``uid``.

        Raises:
            KeyError: no such entry.
        """
        world, _ = self._entry(uid)
        self.set_world(world.model_copy(update={"entries": [e for e in world.entries if e.uid != uid]}))

    def apply_author_note(self) -> None:
        """Put the ``author_note`` traits into the open story's settings (saved)."""
        engine = self.engine
        if engine is None:
            return
        note, depth = self.author_note.strip(), max(0, int(self.author_note_depth))
        with engine.session.lock:
            s = engine.story.settings
            if (s.author_note, s.author_note_depth) == (note, depth):
                return
            s.author_note, s.author_note_depth = note, depth
            engine.session.changed()

    def context_record(self) -> ContextRecord | None:
        """What the model received for the current segment (``None``: not recorded)."""
        cur = self.current
        return cur.context if cur is not None else None
