"""The story engine: a thin front over a story's writer, illustrator and session.

One :class:`StoryEngine` drives one :class:`~storybench.story.model.Story` (two engines
share nothing). It is composed of:

* :class:`~storybench.story.writer.SegmentWriter`: streams a segment's text through the
  story's LLM gate with the loop guard, Stop and Cancel, and returns a typed
  :class:`~storybench.story.writer.Draft`; splits it into narrative and 2-4 choices;
* :class:`~storybench.story.session.StorySession`: the story's folder and file, its
  graph changes under one lock, autosave, save conflicts;
* :class:`~storybench.story.illustrator.Illustrator`: after the text, the illustration
  (prompt, render, file) in its own render thread, or inline with ``inline_images``;
* :class:`~storybench.story.memory.BranchMemory`: each segment's context (world info,
  summaries, author's note, over its own ancestors) and its rolling summary after it.

The loop for one segment: the context and chat messages (:mod:`storybench.story.messages`), the
draft, the segment added to the graph (unfinished, without choices, when Stop or the
kernel's Interrupt ended it), the illustration scheduled. Navigation never deletes:
:meth:`~StoryEngine.back` and :meth:`~StoryEngine.goto` move the reader,
:meth:`~StoryEngine.regenerate` adds a sibling version, :meth:`~StoryEngine.choose` on
an earlier segment starts a new branch.

Options are one :class:`EngineOptions` object (the keyword arguments of earlier releases
fill it). A tiny model (SmolLM2-135M) stays usable: ``max_tokens`` 300, stop strings, the
loop guard, a context within its window, fallbacks for choices, titles and illustration prompts.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Generator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from storybench.exceptions import ConfigError
from storybench.llm.base import LLMBackend, get_llm_backend
from storybench.render.base import ImageBackend, get_image_backend
from storybench.story.drafts import DraftKeeper, Place, unfinished_segment
from storybench.story.folders import story_folder_name
from storybench.story.illustration import IllustrationPrompter
from storybench.story.illustrator import Illustrator
from storybench.story.llm_gate import LLMGate
from storybench.story.memory import BranchMemory, recall_index, world_text
from storybench.story.model import GenerationSettings, Segment, Story, StorySettings
from storybench.story.options import DEFAULT_OUTPUT_ROOT, EngineOptions, SegmentCallback, engine_options
from storybench.story.session import StorySession
from storybench.story.streams import drive_stream
from storybench.story.titles import write_title
from storybench.story.transcript import Request
from storybench.story.writer import Draft, Priority, SegmentWriter, clean_generated_text

__all__ = [
    "DEFAULT_OUTPUT_ROOT",
    "ChunkCallback",
    "EngineOptions",
    "SegmentCallback",
    "StoryEngine",
    "clean_generated_text",
]

ChunkCallback = Callable[[str], None]


class StoryEngine:
    """Generates and illustrates the segments of one story.

    Args:
        story: the story to drive (a :class:`Story`, or :class:`StorySettings` for a new one).
        options: see :class:`EngineOptions`.
        **legacy: :class:`EngineOptions` fields as keyword arguments (as in earlier releases).

    Raises:
        ConfigError: ``max_tokens`` below 16. TypeError: an unknown keyword.
    """

    def __init__(self, story: Story | StorySettings, options: EngineOptions | None = None, **legacy: Any) -> None:
        opts = engine_options(options, legacy)
        self.options = opts
        self.story = story if isinstance(story, Story) else Story(settings=story)
        llm, image = opts.llm, opts.image_backend
        self._llm = llm if isinstance(llm, LLMBackend) else None
        self._owns_llm = self._llm is None
        self.llm_name = llm.name if isinstance(llm, LLMBackend) else llm
        self._image: ImageBackend | None = image if isinstance(image, ImageBackend) else None
        self._owns_image = self._image is None
        self.image_backend_name = image.name if isinstance(image, ImageBackend) else image
        story_dir = (
            Path(opts.story_dir)
            if opts.story_dir is not None
            else Path(opts.output_root) / story_folder_name(self.story)
        )
        self.session = StorySession(self.story, story_dir, story_file=opts.story_file, autosave=opts.autosave)
        self.gate = LLMGate(opts.background_settle_s)
        self.writer = SegmentWriter(lambda: self.llm, self.gate, opts.sampling)
        self.memory = BranchMemory(self.session, lambda: self.llm, self.gate, answer_tokens=opts.max_tokens)
        self.memory.summaries, self.memory.inline = opts.summaries, opts.inline_images
        self.memory.transcript = opts.transcript
        self.memory.semantic = recall_index(opts.semantic_recall)
        self.illustrator = Illustrator(
            self.session,
            backend=lambda: self.image_backend,
            prompter=lambda: self.prompter,
            enabled=bool(self.image_backend_name),
            inline=opts.inline_images,
            on_image=opts.on_image,
        )
        self.keeper = DraftKeeper(
            self.session, self.writer, illustrate=self.schedule_image, settings=self._generation_settings
        )
        self.prefetch_images = (
            opts.prefetch_images if opts.prefetch_images is not None else self.image_backend_name == "storyboard"
        )
        self._cancel = threading.Event()
        self._stop = threading.Event()
        self._prompter: IllustrationPrompter | None = None

    # ------------------------------------------------------------ settings
    max_tokens = property(lambda self: self.options.max_tokens, doc="Token budget of one segment's text.")
    temperature = property(lambda self: self.options.temperature, doc="Sampling temperature of segments.")
    top_p = property(lambda self: self.options.top_p, doc="Nucleus sampling of segments.")
    seed = property(lambda self: self.options.seed, doc="Sampling seed of segments.")
    inline_images = property(lambda self: self.illustrator.inline, doc="Whether illustrations render inline.")
    autosave = property(lambda self: self.session.autosave, doc="Whether every change is saved.")

    @property
    def on_image(self) -> SegmentCallback | None:
        """Called (from the render thread) when a segment's image status changes."""
        return self.illustrator.on_image

    @on_image.setter
    def on_image(self, callback: SegmentCallback | None) -> None:
        self.illustrator.on_image = callback

    # ------------------------------------------------------------ backends
    @property
    def llm(self) -> LLMBackend:
        """The LLM backend (created from its name on first use).

        Raises:
            UnknownBackendError, MissingDependencyError: it cannot be created.
        """
        if self._llm is None:
            self._llm = get_llm_backend(self.llm_name, **self.options.llm_options)
        return self._llm

    @property
    def image_backend(self) -> ImageBackend | None:
        """The image backend (created on first use), ``None`` when images are off."""
        if self._image is None and self.image_backend_name:
            self._image = get_image_backend(self.image_backend_name, **self.options.image_options)
        return self._image

    @property
    def prompter(self) -> IllustrationPrompter:
        """The illustration prompter (background work through this story's LLM gate)."""
        if self._prompter is None:
            self._prompter = IllustrationPrompter(self.llm, gate=self.gate)
        return self._prompter

    @property
    def story_dir(self) -> Path:
        """The story's folder (images in ``images/``)."""
        return self.session.story_dir

    @property
    def story_path(self) -> Path:
        """The story's own file, ``<story_dir>/story.json`` (or the file it was saved as)."""
        return self.session.story_path

    # ---------------------------------------------------------- generation
    def _events(self, cancel_event: threading.Event | None) -> tuple[threading.Event, threading.Event | None]:
        """The cancel and stop events of a generation (fresh engine events unless the caller has its own)."""
        if cancel_event is not None:
            return cancel_event, None
        self._cancel.clear()
        self._stop.clear()
        return self._cancel, self._stop

    def write_segment(
        self,
        parent_id: str | None = None,
        choice_index: int | None = None,
        on_chunk: ChunkCallback | None = None,
        *,
        make_current: bool = True,
        visited: bool = True,
        cancel_event: threading.Event | None = None,
        priority: Priority = "urgent",
    ) -> Segment:
        """Write the segment continuing ``parent_id`` after its choice ``choice_index``
        (an opening when ``parent_id`` is ``None``), handing chunks to ``on_chunk``.

        The segment is added to the story (current with ``make_current``) and its
        illustration scheduled. After :meth:`stop` (or the kernel's Interrupt, a
        ``KeyboardInterrupt`` from ``on_chunk`` or between chunks) the text so far is
        kept as an *unfinished* segment without choices and the interrupt re-raised.

        Args:
            parent_id, choice_index: where the segment goes.
            on_chunk: called with each text chunk.
            make_current: make it the reader's segment (``False`` for prefetching).
            visited: whether the reader has seen it (``False`` for prefetched segments).
            cancel_event: a private event that cancels this generation (the prefetcher's).
            priority: ``"background"`` (prefetching) gives the LLM up to the reader.

        Raises:
            KeyError, IndexError: the place does not exist.
            BackendError: the LLM failed (nothing is added).
            Cancelled: :meth:`cancel` (or ``cancel_event``) was set: nothing is added.
        """
        place = Place.under(self.story, parent_id, choice_index)
        cancel, stop = self._events(cancel_event)
        request = self.memory.request(place.parent_id, place.choice_text)
        draft = self.writer.write(request.messages, on_chunk, cancel=cancel, stop=stop, priority=priority)
        return self._keep(draft, place, make_current, visited, request)

    def generate_stream(
        self,
        parent_id: str | None = None,
        choice_index: int | None = None,
        *,
        make_current: bool = True,
        visited: bool = True,
        cancel_event: threading.Event | None = None,
    ) -> Generator[str, None, Segment]:
        """:meth:`write_segment` as a generator of text chunks whose return value is the
        segment (kept for callers of earlier releases; use :meth:`write_segment`)."""
        place = Place.under(self.story, parent_id, choice_index)
        cancel, stop = self._events(cancel_event)
        request = self.memory.request(place.parent_id, place.choice_text)
        writing = self.writer.stream(request.messages, cancel=cancel, stop=stop)
        yield from writing
        assert writing.draft is not None
        return self._keep(writing.draft, place, make_current, visited, request)

    def _keep(self, draft: Draft, place: Place, make_current: bool, visited: bool, request: Request) -> Segment:
        """Keep the draft as a segment, with the request it was written from; schedule its summary."""
        world, illustrate = world_text(request.context), visited or self.prefetch_images
        seg = self.keeper.keep(
            draft, place, make_current=make_current, visited=visited, illustrate=illustrate, world=world
        )
        self.memory.remember(seg, request.sent, draft.text)
        self.memory.kept(seg, request.context, request.record)
        if make_current:  # the reader's segment: its choices' requests get a head start
            self.memory.prime(seg)
        return seg

    def _generation_settings(self) -> GenerationSettings:
        o = self.options
        return GenerationSettings(
            llm=self.llm_name or "",
            model=getattr(self._llm, "model", None),
            temperature=o.temperature,
            top_p=o.top_p,
            max_tokens=o.max_tokens,
            seed=o.seed,
        )

    def continue_segment(self, segment_id: str | None = None, on_chunk: ChunkCallback | None = None) -> Segment:
        """Finish an unfinished segment (default: the current one): the model continues
        its text, the new text is appended and the choices extracted. A new :meth:`stop`
        keeps the longer text, still unfinished.

        Raises:
            ConfigError: the segment is not unfinished.
            KeyError, BackendError, Cancelled: as :meth:`write_segment`.
        """
        seg = unfinished_segment(self.story, segment_id)
        cancel, stop = self._events(None)
        draft = self.writer.write(self.memory.continue_request(seg), on_chunk, cancel=cancel, stop=stop)
        return self.memory.kept(self.keeper.keep_continued(seg, draft))

    def continue_stream(self, segment_id: str | None = None) -> Generator[str, None, Segment]:
        """:meth:`continue_segment` as a generator (kept for callers of earlier releases)."""
        seg = unfinished_segment(self.story, segment_id)
        cancel, stop = self._events(None)
        writing = self.writer.stream(self.memory.continue_request(seg), cancel=cancel, stop=stop)
        yield from writing
        assert writing.draft is not None
        return self.memory.kept(self.keeper.keep_continued(seg, writing.draft))

    def run_stream(self, gen: Generator[str, None, Segment], on_chunk: ChunkCallback | None) -> Segment:
        """Drive a generator of :meth:`generate_stream` / :meth:`continue_stream` to its
        end, handing each chunk to ``on_chunk``; returns its segment (kept for callers of
        earlier releases: :meth:`write_segment` returns the segment directly)."""
        return drive_stream(gen, on_chunk)

    def start(self, on_chunk: ChunkCallback | None = None) -> Segment:
        """Write an opening segment (a new one beside any earlier openings) and make it current.

        Raises:
            BackendError, Cancelled: see :meth:`write_segment`.
        """
        return self.write_segment(None, None, on_chunk)

    def choose(
        self,
        choice_index: int,
        on_chunk: ChunkCallback | None = None,
        *,
        from_id: str | None = None,
        use_prefetched: bool = True,
    ) -> Segment:
        """Follow choice ``choice_index`` of the current segment (or of ``from_id``, an
        earlier one: a new branch) and make the new segment current. A continuation the
        prefetcher already wrote (:meth:`prefetched`) is taken at once, without the LLM.

        Raises:
            ConfigError: there is no current segment (call :meth:`start`).
            IndexError, KeyError, BackendError, Cancelled: see :meth:`write_segment`.
        """
        parent_id = from_id or self.story.current_id
        if parent_id is None:
            raise ConfigError("story has no segment yet: start it first")
        ready = self.prefetched(parent_id, choice_index) if use_prefetched else None
        if ready is not None:
            return self.visit(ready.id)
        return self.write_segment(parent_id, choice_index, on_chunk)

    def prefetched(self, parent_id: str, choice_index: int) -> Segment | None:
        """The newest finished, not yet visited continuation of a choice, ``None`` when there is none."""
        ready = self.session.unvisited_children(parent_id, choice_index)
        return ready[-1] if ready else None

    def visit(self, segment_id: str) -> Segment:
        """Make a segment current and mark it visited; its illustration is scheduled if it has none yet.

        Raises:
            KeyError: unknown segment.
        """
        seg = self.session.goto(segment_id, visit=True)
        self.memory.prime_soon(seg)  # a prefetched segment: its choices' requests get a head start
        if seg.image_status != "done" and not seg.unfinished and not self.illustrator.busy_with(seg.id):
            self.schedule_image(seg.id)
        return seg

    def regenerate(self, segment_id: str | None = None, on_chunk: ChunkCallback | None = None) -> Segment:
        """Write a new version of ``segment_id`` (default: the current one) for the same
        parent and choice. The old version and its descendants stay as a sibling branch.

        Raises:
            ConfigError: there is no segment to regenerate.
            KeyError, BackendError, Cancelled: see :meth:`write_segment`.
        """
        sid = segment_id or self.story.current_id
        if sid is None:
            raise ConfigError("story has no segment to regenerate")
        old = self.story.segment(sid)
        return self.write_segment(old.parent_id, old.choice_index, on_chunk)

    def back(self, segment_id: str | None = None) -> Segment:
        """Go back to ``segment_id`` (default: the parent of the current segment). Nothing is deleted.

        Raises:
            ConfigError: already at an opening (and no ``segment_id`` given) or no segment yet.
            KeyError: unknown ``segment_id``.
        """
        if segment_id is None:
            cur = self.story.current
            if cur is None or cur.parent_id is None:
                raise ConfigError("already at the beginning of the story")
            segment_id = cur.parent_id
        return self.goto(segment_id)

    def goto(self, segment_id: str) -> Segment:
        """Make ``segment_id`` current.

        Raises:
            KeyError: unknown segment.
        """
        return self.session.goto(segment_id)

    def cancel(self) -> None:
        """Abandon the text generation in progress (it raises :class:`Cancelled`; nothing is kept)."""
        self._cancel.set()

    def stop(self) -> None:
        """Stop the text generation in progress at the next chunk, keeping its text as an
        unfinished segment, and the current segment's illustration if it has not started.
        Safe to call from any thread."""
        self._stop.set()
        cur = self.story.current
        if cur is not None:
            self.illustrator.cancel(cur.id)

    def write_title(self) -> str:
        """Ask the LLM for the story's title (background work: the reader's requests go
        first) and keep it; returns it (``""``, and nothing changed, when none passed)."""
        with self.gate.background():
            title = write_title(self.llm, self.story)
        if title:
            self.session.set_title(title)
        return title

    # ---------------------------------------------------------- illustrations
    def schedule_image(self, segment_id: str) -> Future[None] | None:
        """Illustrate ``segment_id`` (see :meth:`Illustrator.schedule`)."""
        return self.illustrator.schedule(segment_id)

    def retry_image(self, segment_id: str) -> Future[None] | None:
        """Render a segment's illustration again (after a failure, or to refresh it)."""
        return self.illustrator.schedule(segment_id)

    def cancel_image(self, segment_id: str) -> bool:
        """Drop a scheduled illustration that has not started (see :meth:`Illustrator.cancel`)."""
        return self.illustrator.cancel(segment_id)

    def image_future(self, segment_id: str) -> Future[None] | None:
        """The future of a segment's scheduled illustration, ``None`` when none was scheduled."""
        return self.illustrator.future(segment_id)

    def wait_images(self, timeout: float | None = None) -> bool:
        """Wait for scheduled illustrations, at most ``timeout`` seconds; whether every one finished."""
        return self.illustrator.wait(timeout)

    def image_file(self, segment_id: str) -> Path | None:
        """The absolute path of a segment's illustration, ``None`` until rendered."""
        return self.illustrator.image_file(segment_id)

    # --------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str] | None = None, *, overwrite: bool = False) -> Path:
        """Save the story (see :meth:`StorySession.save`: StoryConflict, OSError)."""
        return self.session.save(path, overwrite=overwrite)

    def save_as(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Save to ``path`` and make it the story's file (see :meth:`StorySession.save_as`: StoryConflict, OSError)."""
        return self.session.save_as(path, overwrite=overwrite)

    def close(self) -> None:
        """Drop queued illustrations (one already rendering finishes in its thread) and
        close the backends this engine created from names (not the ones passed in)."""
        self.illustrator.close()
        self.memory.close()
        for backend, owned in ((self._llm, self._owns_llm), (self._image, self._owns_image)):
            if backend is not None and owned:
                with contextlib.suppress(Exception):
                    backend.close()
        if self._owns_llm:
            self._llm, self._prompter = None, None
        if self._owns_image:
            self._image = None

    def __enter__(self) -> StoryEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
