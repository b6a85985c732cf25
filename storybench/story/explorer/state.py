"""The story explorer's state: traits, the story on screen and how generating actions run.

:class:`ExplorerState` holds the traits the view observes, the engine of the story on
screen and the prefetcher, and runs generating actions (:meth:`ExplorerState.submit`:
off the kernel's main thread, Stop and the kernel's Interrupt live). The actions
themselves are :class:`~storybench.story.explorer.model.ExplorerModel`'s.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import traitlets as t

from storybench.config import env_settings
from storybench.exceptions import ConfigError, StorybenchError
from storybench.story.engine import StoryEngine
from storybench.story.explorer.tree import TreeRow, node_label, tree_rows
from storybench.story.library import StoryEntry
from storybench.story.model import Segment, Story
from storybench.story.prefetch import Prefetcher
from storybench.ui_kit.busy import error_message, in_background, running_in_kernel
from storybench.ui_kit.interrupt import register_stop
from storybench.ui_kit.pending import Pending

__all__ = ["ActionFailed", "ExplorerState"]


class ActionFailed(StorybenchError):
    """An explorer action failed; the story on screen is as it was.

    Attributes:
        action: what failed ("Start", "Regenerate", "Load").
        cause: the error.
    """

    def __init__(self, action: str, cause: BaseException) -> None:
        self.action, self.cause = action, cause
        kept = "the story on screen is unchanged" if action != "Start" else "the story on screen is kept"
        super().__init__(f"{action} failed: {error_message(cause)} ({kept})")


def _default_root() -> str:
    return str(Path(env_settings().output_dir) / "stories")


class ExplorerState(t.HasTraits):
    """The state of the story explorer (its actions: :class:`ExplorerModel`).

    Attributes (traits):
        premise, language, style: settings of the next story started.
        llm_backend, image_backend: registered backend names.
        llm_model: the model the LLM backend loads ("" for its default).
        output_root: folder of story folders (default ``$STORYBENCH_OUTPUT_DIR/stories``).
        inline_images: render illustrations synchronously (tests, nbval).
        background: run generating actions submitted by the view in a thread (default: in a kernel).
        prefetch: write the choices' continuations ahead while the writer reads (default: in a kernel).
        titles: let the LLM write the title after a Start (default: in a kernel).
        max_tokens: token budget of a segment.
        busy, generating: an action is running / text is being generated (Stop is live).
        error: the last action's error message ("" when it worked).
        status, status_path: a short note and the file it is about ("" for none).
        streaming_text: the text of the segment being generated.
        revision, image_revision: bumped on graph / illustration changes.
        pending: the open question (overwrite another story?), or ``None``.
        title: the story's title (edit it to rename the story; ``""`` before a story).
        files: the files saved or exported for the story on screen, oldest first.
        library: the saved stories under ``output_root`` (:meth:`refresh_library`).
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
    titles = t.Bool(True)
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
    title = t.Unicode("")
    files = t.List(t.Unicode())
    library: t.List[StoryEntry] = t.List()
    world_revision = t.Int(0)
    author_note = t.Unicode("")
    author_note_depth = t.Int(2)
    comic_plan = t.Unicode("")
    semantic_recall = t.Bool(False)

    def __init__(self, **kwargs: Any) -> None:
        env = env_settings()
        kwargs.setdefault("llm_backend", env.llm_backend)
        kwargs.setdefault("image_backend", env.image_backend)
        kwargs.setdefault("output_root", _default_root())
        kwargs.setdefault("background", running_in_kernel())
        kwargs.setdefault("prefetch", running_in_kernel())
        kwargs.setdefault("titles", running_in_kernel())
        super().__init__(**kwargs)
        self.engine: StoryEngine | None = None
        self.prefetcher: Prefetcher | None = None
        self._job: Future[Any] | None = None
        self._title_job: threading.Thread | None = None
        self._starting: StoryEngine | None = None  # the engine of a Start, until its opening is written
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
        return tree_rows(self.story)

    def node_label(self, segment: Segment) -> str:
        """A branch-tree label (see :func:`~storybench.story.explorer.tree.node_label`)."""
        return node_label(self.story, segment)

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
        """Wait for the submitted action, the title and the prefetch; whether all ended within ``timeout``."""
        job = self._job
        if job is not None:
            try:
                job.exception(timeout)
            except TimeoutError:
                return False
        if self._title_job is not None:
            self._title_job.join(timeout)
        return self.prefetcher.wait(timeout) if self.prefetcher is not None else True

    def stop(self) -> None:
        """Stop the generation in progress within a chunk (its text stays as an unfinished
        segment) and the current illustration if it has not started. Any thread."""
        if self.prefetcher is not None:
            self.prefetcher.stop()
        for engine in (self.engine, self._starting):
            if engine is not None:
                engine.stop()

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

    def _image_changed(self, segment: Segment) -> None:
        self.image_revision += 1

    def _on_chunk(self, chunk: str) -> None:
        self.streaming_text += chunk

    def _need_engine(self) -> StoryEngine:
        if self.engine is None:
            raise ConfigError("no story yet: write a premise and press Start, or Load a story")
        return self.engine
