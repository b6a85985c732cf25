"""A story's session: its folder and file, the changes made to its graph, autosave and save conflicts.

Every change to the story graph made by the engine goes through a :class:`StorySession`
under its state lock (the generation, render and prefetch threads all change it), and
the story is saved after each one when ``autosave`` is on. Saving never writes over
another story's file unless told (:class:`~storybench.story.folders.StoryConflict`).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from storybench.story.folders import check_target, copy_images
from storybench.story.model import GenerationSettings, Segment, Story

__all__ = ["StorySession"]


class StorySession:
    """One story, its folder and its file.

    Args:
        story: the story.
        story_dir: the story's folder (images go to ``images/`` in it).
        story_file: the story's file name in ``story_dir``.
        autosave: save after every change.

    Attributes:
        lock: the state lock; hold it to read several fields that must agree.
    """

    def __init__(self, story: Story, story_dir: Path, *, story_file: str = "story.json", autosave: bool = True) -> None:
        self.story = story
        self.story_dir = Path(story_dir)
        self.story_file = story_file
        self.autosave = autosave
        self.lock = threading.RLock()

    @property
    def story_path(self) -> Path:
        """The story's own file, ``<story_dir>/<story_file>``."""
        return self.story_dir / self.story_file

    # ---------------------------------------------------------- mutations
    def add_segment(
        self,
        *,
        parent_id: str | None,
        choice_index: int | None,
        choice_text: str,
        text: str,
        raw: str,
        choices: list[str],
        source: str,
        settings: GenerationSettings,
        make_current: bool,
        visited: bool,
        unfinished: bool = False,
    ) -> Segment:
        """Add a new segment (current with ``make_current``) and autosave.

        Raises:
            KeyError, ValueError: ``parent_id`` / ``choice_index`` do not fit the graph.
        """
        with self.lock:
            segment = Segment(
                id=self.story.new_segment_id(),
                parent_id=parent_id,
                choice_index=choice_index,
                choice_text=choice_text,
                text=text,
                raw_text=raw,
                choices=choices,
                choices_source=source,  # type: ignore[arg-type]  # one of the writer's literal values
                settings=settings,
                unfinished=unfinished,
                visited=visited,
            )
            self.story.add(segment)
            if make_current:
                self.story.current_id = segment.id
            self.changed()
        return segment

    def update(self, segment: Segment, **fields: Any) -> None:
        """Set fields of ``segment`` and autosave."""
        with self.lock:
            for key, value in fields.items():
                setattr(segment, key, value)
            self.changed()

    def set_title(self, title: str) -> None:
        """Set the story's display title (``""``: back to the premise's first words) and autosave."""
        with self.lock:
            self.story.settings.title = title.strip()
            self.changed()

    def goto(self, segment_id: str, *, visit: bool = False) -> Segment:
        """Make ``segment_id`` current (and visited with ``visit``) and autosave.

        Raises:
            KeyError: unknown segment.
        """
        with self.lock:
            seg = self.story.segment(segment_id)
            if visit:
                seg.visited = True
            self.story.current_id = seg.id
            self.changed()
        return seg

    def unvisited_children(self, parent_id: str, choice_index: int) -> list[Segment]:
        """The finished, not yet visited continuations of a choice, oldest first."""
        with self.lock:
            return [s for s in self.story.children_for(parent_id, choice_index) if not s.visited and not s.unfinished]

    # ------------------------------------------------------------- saving
    def changed(self) -> None:
        """Save when ``autosave`` is on (call after a change)."""
        if self.autosave:
            self.save()

    def save(self, path: str | os.PathLike[str] | None = None, *, overwrite: bool = False) -> Path:
        """Save the story JSON atomically to its own file or to ``path`` (a copy).

        Raises:
            StoryConflict: the file holds another story (and ``overwrite`` is false).
            OSError: the folder cannot be written.
        """
        target = Path(path) if path is not None else self.story_path
        with self.lock:
            if not overwrite:
                check_target(self.story, target)
            return self.story.save(target)

    def save_as(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Save to ``path`` and make it the story's file: illustrations are copied to its
        folder, which becomes :attr:`story_dir`.

        Raises:
            StoryConflict: ``path`` holds another story (and ``overwrite`` is false).
            OSError: the folder cannot be written.
        """
        target = Path(path)
        with self.lock:
            if not overwrite:
                check_target(self.story, target)
            copy_images(self.story, self.story_dir, target.parent)
            written = self.story.save(target)
            self.story_dir, self.story_file = target.parent, target.name
        return written
