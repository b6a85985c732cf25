"""The story explorer's model: story settings, backend names and the reader's state as traits.

No ipywidgets import: the view (:mod:`storybench.story.explorer.view`) links its
widgets to these traits and calls these methods; tests can drive the model alone.

Generating actions (:meth:`ExplorerModel.start`, :meth:`~ExplorerModel.choose`,
:meth:`~ExplorerModel.regenerate`, :meth:`~ExplorerModel.continue_segment`) run where
they are called and return the segment; the view runs them through
:meth:`ExplorerModel.submit`, which (with ``background``) runs them off the kernel's
main thread so Stop stays live, and registers :meth:`ExplorerModel.stop` with the
kernel's Interrupt. After every new current segment the prefetcher
(:mod:`storybench.story.prefetch`) writes its choices' continuations ahead
(``prefetch``); every action stops it first.

Saving never writes over another story: :meth:`ExplorerModel.save` to a file holding
another story returns a :class:`~storybench.ui_kit.pending.Pending` (Overwrite / Save as
new / Cancel) answered through :meth:`ExplorerModel.resolve`.

Traits the view observes:
    ``streaming_text`` (the segment being written, per chunk), ``revision`` (bumped when
    the graph or the current segment changes), ``image_revision`` (bumped when an
    illustration's status changes, possibly from the render thread), ``busy``,
    ``generating``, ``error``, ``status``, ``status_path``, ``pending``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import traitlets as t

from storybench.config import env_settings
from storybench.exceptions import ConfigError
from storybench.story.engine import StoryEngine
from storybench.story.export import ExportKind, export_story
from storybench.story.folders import StoryConflict, new_story_path
from storybench.story.model import Segment, Story, StorySettings, load_story
from storybench.story.prefetch import Prefetcher
from storybench.ui_kit.busy import in_background, running_in_kernel
from storybench.ui_kit.interrupt import register_stop
from storybench.ui_kit.pending import Pending

__all__ = ["ExplorerModel", "TreeRow"]

TreeRow = tuple[int, Segment, bool, bool]
"""``(depth, segment, on_current_path, is_current)``."""


def _default_root() -> str:
    return str(Path(env_settings().output_dir) / "stories")


class ExplorerModel(t.HasTraits):
    """State and actions of the story explorer.

    Attributes (traits):
        premise, language, style: settings of the next story started.
        llm_backend, image_backend: registered backend names.
        llm_model: the model the LLM backend loads ("" for its default; a GGUF path for
            ``llamacpp``, a model name for ``ollama``/``openai``).
        output_root: folder of story folders (default ``$STORYBENCH_OUTPUT_DIR/stories``).
        inline_images: render illustrations synchronously (tests, nbval).
        background: run generating actions submitted by the view in a thread (default:
            in a Jupyter kernel; scripts and headless tests run them in place).
        prefetch: write the choices' continuations ahead while the writer reads (default:
            in a Jupyter kernel).
        max_tokens: token budget of a segment.
        busy: an action is running.
        generating: text is being generated (Stop is live).
        error: the last action's error message ("" when it worked).
        status: a short note (saved to..., exported to...).
        status_path: the file the status is about ("" for none), shown as a link.
        streaming_text: the text of the segment being generated.
        revision: bumped on every change of the story graph or current segment.
        image_revision: bumped on every illustration status change.
        pending: the open question (overwrite another story?), or ``None``.
    """

    premise = t.Unicode("")
    language = t.Unicode("en")
    style = t.Unicode("noir")
    llm_backend = t.Unicode("llamacpp")
    llm_model = t.Unicode("")
    image_backend = t.Unicode("storyboard")
    output_root = t.Unicode("")
    inline_images = t.Bool(False)
    background = t.Bool(True)
    prefetch = t.Bool(True)
    max_tokens = t.Int(300)
    busy = t.Bool(False)
    generating = t.Bool(False)
    error = t.Unicode("")
    status = t.Unicode("")
    status_path = t.Unicode("")
    streaming_text = t.Unicode("")
    revision = t.Int(0)
    image_revision = t.Int(0)
    pending = t.Instance(Pending, allow_none=True)

    def __init__(self, **kwargs: Any) -> None:
        env = env_settings()
        kwargs.setdefault("llm_backend", env.llm_backend)
        kwargs.setdefault("image_backend", env.image_backend)
        kwargs.setdefault("output_root", _default_root())
        kwargs.setdefault("background", running_in_kernel())
        kwargs.setdefault("prefetch", running_in_kernel())
        super().__init__(**kwargs)
        self.engine: StoryEngine | None = None
        self.prefetcher: Prefetcher | None = None
        self._job: Future[Any] | None = None
        self._lock = threading.RLock()

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

    def node_label(self, segment: Segment) -> str:
        """A branch-tree label: the segment id, the number and text of the choice that led
        to it, its version when regenerated, ``…`` when unfinished:
        ``"s004 · 1. Open the letter · v2"``, ``"s001 · Start"``."""
        story = self.story
        label = f"{segment.id} · "
        if segment.parent_id is None:
            label += "Start"
        else:
            label += f"{(segment.choice_index or 0) + 1}. {segment.choice_text}"
        version = story.version(segment.id) if story is not None else 1
        if version > 1:
            label += f" · v{version}"
        if segment.unfinished:
            label += " …"
        return label

    def image_file(self, segment_id: str) -> Path | None:
        """The illustration file of a segment, ``None`` until it is rendered."""
        return self.engine.image_file(segment_id) if self.engine is not None else None

    def uses_builtin_llm(self) -> bool:
        """Whether stories are written by the built-in tiny test model (llamacpp without a model)."""
        return self.llm_backend == "llamacpp" and not self.llm_model.strip()

    # ----------------------------------------------------------- running
    def submit(self, action: Callable[..., Any], *args: Any) -> Any:
        """Run a generating action: in a thread with ``background`` (returns its
        :class:`~concurrent.futures.Future`), else here (returns its result). While it
        runs, :attr:`generating` is true and the kernel's Interrupt calls :meth:`stop`."""
        unregister = register_stop(self.stop)

        def run() -> Any:
            self.generating = True
            try:
                return action(*args)
            finally:
                self.generating = False
                unregister()

        if not self.background:
            return run()
        with self._lock:
            self._job = in_background(run, name="story-explorer")
            return self._job

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the submitted action (and the prefetch); whether both ended within ``timeout``."""
        job = self._job
        if job is not None:
            try:
                job.exception(timeout)
            except TimeoutError:
                return False
        return self.prefetcher.wait(timeout) if self.prefetcher is not None else True

    def stop(self) -> None:
        """Stop the generation in progress within a chunk (its text stays as an unfinished
        segment) and the current illustration if it has not started. Any thread."""
        if self.prefetcher is not None:
            self.prefetcher.stop()
        if self.engine is not None:
            self.engine.stop()

    def _quiet_prefetch(self) -> None:
        if self.prefetcher is not None:
            self.prefetcher.stop()

    def _after_segment(self, segment: Segment) -> Segment:
        self.streaming_text = ""
        self.revision += 1
        if self.prefetch and self.engine is not None and segment.choices and not segment.unfinished:
            if self.prefetcher is None or self.prefetcher.engine is not self.engine:
                self.prefetcher = Prefetcher(self.engine, on_segment=self._prefetched)
            self.prefetcher.start(segment.id)
        return segment

    def _prefetched(self, segment: Segment) -> None:
        self.revision += 1

    # ----------------------------------------------------------- actions
    def _engine_for(self, story: Story, story_dir: Path | None = None, story_file: str = "story.json") -> StoryEngine:
        if self.prefetcher is not None:
            self.prefetcher.stop(timeout=5)
            self.prefetcher = None
        if self.engine is not None:
            self.engine.close()
        options = {"model": self.llm_model.strip()} if self.llm_model.strip() else {}
        return StoryEngine(
            story,
            llm=self.llm_backend,
            image_backend=self.image_backend or None,
            output_root=self.output_root,
            story_dir=story_dir,
            inline_images=self.inline_images,
            max_tokens=self.max_tokens,
            llm_options=options,
            on_image=self._image_changed,
            story_file=story_file,
        )

    def _image_changed(self, segment: Segment) -> None:
        self.image_revision += 1

    def _on_chunk(self, chunk: str) -> None:
        self.streaming_text += chunk

    def _need_engine(self) -> StoryEngine:
        if self.engine is None:
            raise ConfigError("no story yet: write a premise and press Start, or Load a story")
        return self.engine

    def _generate(self, work: Callable[[StoryEngine], Segment]) -> Segment:
        engine = self._need_engine()
        self._quiet_prefetch()
        self.streaming_text = ""
        try:
            return self._after_segment(work(engine))
        finally:
            self.streaming_text = ""

    def start(self) -> Segment:
        """Start a new story (in its own new folder) from the settings and generate its opening.

        Raises:
            pydantic.ValidationError: empty premise, unknown style or bad language tag.
            UnknownBackendError, MissingDependencyError, BackendError: see :class:`StoryEngine`.
        """
        settings = StorySettings(premise=self.premise, language=self.language, style=self.style)
        self.engine = self._engine_for(Story(settings=settings))
        self.status, self.status_path, self.pending = "", "", None
        self.revision += 1
        return self._generate(lambda e: e.start(self._on_chunk))

    def choose(self, index: int) -> Segment:
        """Follow choice ``index`` of the current segment (at once when it was prefetched)."""
        return self._generate(lambda e: e.choose(index, self._on_chunk))

    def regenerate(self) -> Segment:
        """Write a new version of the current segment (the old one stays as a branch)."""
        return self._generate(lambda e: e.regenerate(None, self._on_chunk))

    def continue_segment(self) -> Segment:
        """Finish the current, unfinished segment (stopped earlier)."""

        def work(engine: StoryEngine) -> Segment:
            cur = engine.story.current
            self.streaming_text = cur.text if cur is not None else ""
            return engine.continue_segment(None, self._on_chunk)

        return self._generate(work)

    def back(self) -> Segment:
        """Go back to the parent of the current segment."""
        self._quiet_prefetch()
        seg = self._need_engine().back()
        self.revision += 1
        return seg

    def goto(self, segment_id: str) -> Segment:
        """Jump to any segment of the tree (marking it visited)."""
        self._quiet_prefetch()
        seg = self._need_engine().visit(segment_id)
        self.revision += 1
        return seg

    def retry_image(self) -> None:
        """Render the current segment's illustration again."""
        engine = self._need_engine()
        if self.current is not None:
            engine.retry_image(self.current.id)
            self.image_revision += 1

    def _saved(self, written: Path) -> Path:
        self.status, self.status_path = f"Saved to {written}", str(written)
        return written

    def save(self, path: str | os.PathLike[str] | None = None) -> Path | Pending:
        """Save the story to its own file, or to ``path`` (which then becomes its file,
        its images copied beside it).

        Returns:
            The written path, or a :class:`Pending` when ``path`` holds another story:
            ``overwrite`` (write over it), ``new`` (save into a new folder beside it),
            ``cancel``; answer with :meth:`resolve`.

        Raises:
            ConfigError: no story yet. OSError: the file cannot be written.
        """
        engine = self._need_engine()
        target = Path(path).expanduser() if path else engine.story_path
        if target.is_dir():
            target = target / "story.json"
        same = target.resolve() == engine.story_path.resolve()
        try:
            return self._saved(engine.save() if same else engine.save_as(target))
        except StoryConflict as conflict:
            return self._ask_overwrite(engine, target, conflict)

    def _ask_overwrite(self, engine: StoryEngine, target: Path, conflict: StoryConflict) -> Pending:
        def answer(choice: str) -> Path:
            if choice == "overwrite":
                return self._saved(engine.save_as(target, overwrite=True))
            return self._saved(engine.save_as(new_story_path(engine.story, target)))

        other = f"“{conflict.other_title}”" if conflict.other_title else "another story"
        self.pending = Pending(
            kind="overwrite-story",
            message=f"{target} holds {other}. Overwrite it with “{engine.story.title}”?",
            choices=("overwrite", "new", "cancel"),
            labels={"overwrite": "Overwrite", "new": "Save as new", "cancel": "Cancel"},
            action=answer,
        )
        return self.pending

    def resolve(self, choice: str) -> Any:
        """Answer the pending question with one of its choices.

        Raises:
            ValueError: nothing is pending, or ``choice`` is not one of its choices.
        """
        pending = self.pending
        if pending is None:
            raise ValueError("no question is pending")
        if choice not in pending.choices:
            raise ValueError(f"{choice!r} is not an answer; choose one of {', '.join(pending.choices)}")
        self.pending = None
        if choice == "cancel" or pending.action is None:
            self.status, self.status_path = "Not saved", ""
            return None
        return pending.action(choice)

    def load(self, path: str | os.PathLike[str]) -> Story:
        """Open a saved story; its folder is the file's folder (images are found there).

        Raises:
            StoryFormatError: not a valid story file.
            OSError: cannot be read.
        """
        p = Path(path).expanduser()
        if p.is_dir():
            p = p / "story.json"
        story = load_story(p)
        self.engine = self._engine_for(story, story_dir=p.parent, story_file=p.name)
        self.premise, self.language, self.style = story.settings.premise, story.settings.language, story.settings.style
        self.status, self.status_path, self.pending = f"Loaded {p}", str(p), None
        cur = story.current
        if cur is not None and cur.image_status in ("pending", "rendering") and not cur.unfinished:
            self.engine.schedule_image(cur.id)  # saved while it was being drawn: draw it again
        self.revision += 1
        return story

    def export(self, kind: ExportKind, path: str | os.PathLike[str] | None = None) -> Path:
        """Export the story as ``"twee"``, ``"markdown"``, ``"html"`` or ``"epub"`` into its folder (or ``path``).

        Raises:
            ValueError: unknown kind, or a story without segments.
        """
        engine = self._need_engine()
        written = export_story(engine.story, kind, path, story_dir=engine.story_dir)
        self.status, self.status_path = f"Exported to {written}", str(written)
        return written

    def close(self) -> None:
        """Stop the prefetch and the render thread of the current story."""
        if self.prefetcher is not None:
            self.prefetcher.stop(timeout=5)
        if self.engine is not None:
            self.engine.close()
