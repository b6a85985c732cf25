"""The story explorer's model: story settings, backend names and the reader's state as traits.

No ipywidgets import: the view (:mod:`storybench.story.explorer.view`) links its
widgets to these traits and calls these methods; tests can drive the model alone.

Traits the view observes:
    ``streaming_text`` (the segment being written, per chunk), ``revision`` (bumped when
    the graph or the current segment changes), ``image_revision`` (bumped when an
    illustration's status changes, possibly from the render thread), ``busy``, ``error``,
    ``status``.
"""

from __future__ import annotations

import os
from pathlib import Path

import traitlets as t

from storybench.config import env_settings
from storybench.exceptions import ConfigError
from storybench.story.engine import DEFAULT_OUTPUT_ROOT, StoryEngine
from storybench.story.export import ExportKind, export_story
from storybench.story.model import Segment, Story, StorySettings, load_story

__all__ = ["ExplorerModel", "TreeRow"]

TreeRow = tuple[int, Segment, bool, bool]
"""``(depth, segment, on_current_path, is_current)``."""


class ExplorerModel(t.HasTraits):
    """State and actions of the story explorer.

    Attributes (traits):
        premise, language, style: settings of the next story started.
        llm_backend, image_backend: registered backend names.
        output_root: folder of story folders.
        inline_images: render illustrations synchronously (tests, nbval).
        max_tokens: token budget of a segment.
        busy: an action is running.
        error: the last action's error message ("" when it worked).
        status: a short note (saved to..., exported to...).
        streaming_text: the text of the segment being generated.
        revision: bumped on every change of the story graph or current segment.
        image_revision: bumped on every illustration status change.
    """

    premise = t.Unicode("")
    language = t.Unicode("en")
    style = t.Unicode("noir")
    llm_backend = t.Unicode("llamacpp")
    image_backend = t.Unicode("storyboard")
    output_root = t.Unicode(DEFAULT_OUTPUT_ROOT)
    inline_images = t.Bool(False)
    max_tokens = t.Int(300)
    busy = t.Bool(False)
    error = t.Unicode("")
    status = t.Unicode("")
    streaming_text = t.Unicode("")
    revision = t.Int(0)
    image_revision = t.Int(0)

    def __init__(self, **kwargs: object) -> None:
        env = env_settings()
        kwargs.setdefault("llm_backend", env.llm_backend)
        kwargs.setdefault("image_backend", env.image_backend)
        super().__init__(**kwargs)
        self.engine: StoryEngine | None = None

    # ------------------------------------------------------------- state
    @property
    def story(self) -> Story | None:
        """The story being explored (``None`` before Start or Load)."""
        return self.engine.story if self.engine is not None else None

    @property
    def current(self) -> Segment | None:
        """The segment the reader is on."""
        return self.story.current if self.story is not None else None

    def can_go_back(self) -> bool:
        """Whether Back has somewhere to go."""
        cur = self.current
        return cur is not None and cur.parent_id is not None

    def tree(self) -> list[TreeRow]:
        """Every segment depth-first, flagged when on the current path or current."""
        story = self.story
        if story is None:
            return []
        on_path = {s.id for s in story.path()} if story.current_id else set()
        return [(d, s, s.id in on_path, s.id == story.current_id) for d, s in story.walk()]

    def image_file(self, segment_id: str) -> Path | None:
        """The illustration file of a segment, ``None`` until it is rendered."""
        return self.engine.image_file(segment_id) if self.engine is not None else None

    # ----------------------------------------------------------- actions
    def _engine_for(self, story: Story, story_dir: Path | None = None) -> StoryEngine:
        if self.engine is not None:
            self.engine.close()
        return StoryEngine(
            story,
            llm=self.llm_backend,
            image_backend=self.image_backend or None,
            output_root=self.output_root,
            story_dir=story_dir,
            inline_images=self.inline_images,
            max_tokens=self.max_tokens,
            on_image=self._image_changed,
        )

    def _image_changed(self, segment: Segment) -> None:
        self.image_revision += 1

    def _on_chunk(self, chunk: str) -> None:
        self.streaming_text += chunk

    def _generated(self, segment: Segment) -> Segment:
        self.streaming_text = ""
        self.revision += 1
        return segment

    def _need_engine(self) -> StoryEngine:
        if self.engine is None:
            raise ConfigError("no story yet: write a premise and press Start, or Load a story")
        return self.engine

    def start(self) -> Segment:
        """Start a new story from the settings and generate its opening.

        Raises:
            pydantic.ValidationError: empty premise, unknown style or bad language tag.
            UnknownBackendError, MissingDependencyError, BackendError: see :class:`StoryEngine`.
        """
        settings = StorySettings(premise=self.premise, language=self.language, style=self.style)
        self.engine = self._engine_for(Story(settings=settings))
        self.status = ""
        self.streaming_text = ""
        self.revision += 1
        try:
            return self._generated(self.engine.start(self._on_chunk))
        finally:
            self.streaming_text = ""

    def choose(self, index: int) -> Segment:
        """Follow choice ``index`` of the current segment."""
        engine = self._need_engine()
        self.streaming_text = ""
        try:
            return self._generated(engine.choose(index, self._on_chunk))
        finally:
            self.streaming_text = ""

    def regenerate(self) -> Segment:
        """Write a new version of the current segment (the old one stays as a branch)."""
        engine = self._need_engine()
        self.streaming_text = ""
        try:
            return self._generated(engine.regenerate(None, self._on_chunk))
        finally:
            self.streaming_text = ""

    def back(self) -> Segment:
        """Go back to the parent of the current segment."""
        seg = self._need_engine().back()
        self.revision += 1
        return seg

    def goto(self, segment_id: str) -> Segment:
        """Jump to any segment of the tree."""
        seg = self._need_engine().goto(segment_id)
        self.revision += 1
        return seg

    def retry_image(self) -> None:
        """Render the current segment's illustration again."""
        engine = self._need_engine()
        if self.current is not None:
            engine.retry_image(self.current.id)
            self.image_revision += 1

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Save the story (default ``<story folder>/story.json``)."""
        written = self._need_engine().save(Path(path) if path else None)
        self.status = f"Saved to {written}"
        return written

    def load(self, path: str | os.PathLike[str]) -> Story:
        """Open a saved story; its folder is the file's folder (images are found there).

        Raises:
            StoryFormatError: not a valid story file.
            OSError: cannot be read.
        """
        p = Path(path)
        story = load_story(p)
        self.engine = self._engine_for(story, story_dir=p.parent)
        self.premise, self.language, self.style = story.settings.premise, story.settings.language, story.settings.style
        self.status = f"Loaded {p}"
        self.revision += 1
        return story

    def export(self, kind: ExportKind, path: str | os.PathLike[str] | None = None) -> Path:
        """Export the story as ``"twee"``, ``"markdown"``, ``"html"`` or ``"epub"`` into its folder (or ``path``).

        Raises:
            ValueError: unknown kind, or a story without segments.
        """
        engine = self._need_engine()
        written = export_story(engine.story, kind, path, story_dir=engine.story_dir)
        self.status = f"Exported to {written}"
        return written

    def close(self) -> None:
        """Stop the render thread of the current story."""
        if self.engine is not None:
            self.engine.close()
