"""The story engine: generates segments with an LLM and illustrates them with an image backend.

One :class:`StoryEngine` drives one :class:`~storybench.story.model.Story` (two engines
share nothing). The loop for each segment:

1. build the prompts (:mod:`storybench.story.prompts`) and stream the text from the
   LLM, handing every chunk to ``on_chunk`` (or yielding it from :meth:`StoryEngine.generate_stream`);
2. split the answer into narrative and choices (:mod:`storybench.story.choices`); when
   fewer than two choices come out, ask once more with a structured request for three,
   then fall back to language defaults — there are always 2-4 choices;
3. add the segment to the graph, make it current, save the story;
4. *after* the text, in a background thread (or inline with ``inline_images=True``):
   make the illustration prompt (:class:`~storybench.story.illustration.IllustrationPrompter`),
   render it through the image backend, write ``images/<segment_id>.png`` atomically.
   A failed image only marks the segment ``failed`` with its error;
   :meth:`StoryEngine.retry_image` tries again.

Navigation never deletes: :meth:`~StoryEngine.back` and :meth:`~StoryEngine.goto` move
the reader, :meth:`~StoryEngine.regenerate` adds a sibling version next to the old one,
and :meth:`~StoryEngine.choose` on an earlier segment starts a new branch.

Limits that keep a tiny model (SmolLM2-135M) usable: ``max_tokens`` 300 per segment,
stop strings at a fifth choice and chat end markers, a loop guard that stops the
stream when the model repeats itself (:mod:`storybench.story.repetition`), bounded
context, fallbacks for choices and illustration prompts.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from storybench.exceptions import Cancelled, ConfigError, StorybenchError
from storybench.llm.base import LLMBackend, Message, get_llm_backend
from storybench.render.base import ImageBackend, get_image_backend
from storybench.story.choices import (
    MIN_CHOICES,
    ChoiceList,
    default_choices,
    extract_choices,
    finalize_choices,
)
from storybench.story.folders import check_target, copy_images, story_folder_name
from storybench.story.illustration import IllustrationPrompter
from storybench.story.images import IllustrationMixin
from storybench.story.model import GenerationSettings, Segment, Story, StorySettings
from storybench.story.prompts import SEGMENT_STOP, choices_messages, continue_messages, segment_messages
from storybench.story.repetition import degeneration_cut

__all__ = ["DEFAULT_OUTPUT_ROOT", "ChunkCallback", "SegmentCallback", "StoryEngine", "clean_generated_text"]

DEFAULT_OUTPUT_ROOT = "outputs/stories"

ChunkCallback = Callable[[str], None]
SegmentCallback = Callable[[Segment], None]

_CHAT_MARKERS = re.compile(r"<\|[a-z_]+\|>|</?s>|\[/?INST\]", re.I)
_ROLE_PREFIX = re.compile(r"^\s*(?:assistant|narrator|рассказчик|оповідач)\s*:\s*", re.I)


class _Stopped(Exception):
    """Internal: the writer pressed Stop (the text so far is kept)."""


def clean_generated_text(raw: str) -> str:
    """A model's raw answer without chat markers, a leading role prefix ("Assistant:"),
    anything after a stop string, and surrounding blank space."""
    text = raw
    for stop in SEGMENT_STOP:
        if stop.strip() and stop in text:
            text = text.split(stop, 1)[0]
    text = _CHAT_MARKERS.sub("", text)
    text = _ROLE_PREFIX.sub("", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


class StoryEngine(IllustrationMixin):
    """Generates and illustrates the segments of one story.

    Args:
        story: the story to drive (a :class:`Story`, or :class:`StorySettings` for a new one).
        llm: an LLM backend or its registered name (created on first use).
        image_backend: an image backend, its registered name, or ``None`` for no images.
        output_root: folder holding story folders; the story's is
            ``output_root/<title slug>-<id start>`` (:func:`~storybench.story.folders.story_folder_name`).
        story_dir: the story folder itself (overrides ``output_root``).
        inline_images: render illustrations in the calling thread (tests, scripts).
        autosave: save ``story.json`` after every change.
        max_tokens: token budget of one segment's text.
        temperature, top_p, seed: sampling settings of segment requests.
        llm_options: options passed to :func:`get_llm_backend` when ``llm`` is a name.
        image_options: options passed to :func:`get_image_backend` when ``image_backend`` is a name.
        on_image: called (from the render thread) when a segment's image status changes.
        prefetch_images: illustrate prefetched (unvisited) segments too (default: only with
            the offline ``storyboard`` renderer, which costs no GPU time).
        story_file: the story's file name in ``story_dir`` (a loaded ``my-story.json``).

    Raises:
        ConfigError: ``max_tokens`` below 16.
    """

    def __init__(
        self,
        story: Story | StorySettings,
        *,
        llm: LLMBackend | str = "llamacpp",
        image_backend: ImageBackend | str | None = "storyboard",
        output_root: str | os.PathLike[str] = DEFAULT_OUTPUT_ROOT,
        story_dir: str | os.PathLike[str] | None = None,
        inline_images: bool = False,
        autosave: bool = True,
        max_tokens: int = 300,
        temperature: float = 0.7,
        top_p: float = 0.9,
        seed: int | None = None,
        llm_options: dict[str, Any] | None = None,
        image_options: dict[str, Any] | None = None,
        on_image: SegmentCallback | None = None,
        prefetch_images: bool | None = None,
        story_file: str = "story.json",
    ) -> None:
        if max_tokens < 16:
            raise ConfigError(f"max_tokens: {max_tokens} is too small for a segment (at least 16)")
        self.story = story if isinstance(story, Story) else Story(settings=story)
        self._llm = llm if isinstance(llm, LLMBackend) else None
        self._owns_llm = self._llm is None
        self.llm_name = llm.name if isinstance(llm, LLMBackend) else llm
        self._image: ImageBackend | None = image_backend if isinstance(image_backend, ImageBackend) else None
        self._owns_image = self._image is None
        self.image_backend_name = image_backend.name if isinstance(image_backend, ImageBackend) else image_backend
        self.story_dir = Path(story_dir) if story_dir is not None else Path(output_root) / story_folder_name(self.story)
        self._story_file = story_file
        self.inline_images = inline_images
        self.autosave = autosave
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.seed = seed
        self._llm_options = dict(llm_options or {})
        self._image_options = dict(image_options or {})
        self.on_image = on_image
        self._llm_lock = threading.RLock()
        self._state_lock = threading.RLock()
        self._executor: ThreadPoolExecutor | None = None
        self._futures: dict[str, Future[None]] = {}
        self._cancel = threading.Event()
        self._stop = threading.Event()
        self.prefetch_images = (
            prefetch_images if prefetch_images is not None else self.image_backend_name == "storyboard"
        )
        self._prompter: IllustrationPrompter | None = None

    # ------------------------------------------------------------ backends
    @property
    def llm(self) -> LLMBackend:
        """The LLM backend (created from its name on first use).

        Raises:
            UnknownBackendError, MissingDependencyError: it cannot be created.
        """
        if self._llm is None:
            self._llm = get_llm_backend(self.llm_name, **self._llm_options)
        return self._llm

    @property
    def image_backend(self) -> ImageBackend | None:
        """The image backend (created on first use), ``None`` when images are off."""
        if self._image is None and self.image_backend_name:
            self._image = get_image_backend(self.image_backend_name, **self._image_options)
        return self._image

    @property
    def prompter(self) -> IllustrationPrompter:
        """The illustration prompter (shares this engine's LLM lock and cache)."""
        if self._prompter is None:
            self._prompter = IllustrationPrompter(self.llm, lock=self._llm_lock)
        return self._prompter

    @property
    def story_path(self) -> Path:
        """The story's own file, ``<story_dir>/story.json`` (or the file it was saved as)."""
        return self.story_dir / self._story_file

    # ---------------------------------------------------------- generation
    def generate_stream(
        self,
        parent_id: str | None = None,
        choice_index: int | None = None,
        *,
        make_current: bool = True,
        visited: bool = True,
        cancel_event: threading.Event | None = None,
    ) -> Generator[str, None, Segment]:
        """Generate the segment continuing ``parent_id`` after its choice ``choice_index``
        (an opening when ``parent_id`` is ``None``), yielding text chunks as they come.

        The generator's return value (``StopIteration.value``, or ``yield from``) is the new
        segment, already added to the story (and current, with ``make_current``); its image
        is scheduled. After :meth:`stop` (or a ``KeyboardInterrupt`` — the kernel's
        Interrupt — between chunks) the text so far is kept as an *unfinished* segment
        without choices (:meth:`continue_segment` finishes it); the interrupt is re-raised.

        Args:
            parent_id, choice_index: where the segment goes.
            make_current: make the new segment the reader's (``False`` for prefetching).
            visited: whether the reader has seen it (``False`` for prefetched segments).
            cancel_event: a private event that cancels this generation (the prefetcher's);
                by default :meth:`cancel` / :meth:`stop`.

        Raises:
            KeyError: unknown ``parent_id``.
            IndexError: ``choice_index`` out of range.
            BackendError: the LLM failed (nothing is added to the story).
            Cancelled: :meth:`cancel` (or ``cancel_event``) was set: nothing is added.
        """
        story = self.story
        choice_text = ""
        if parent_id is not None:
            parent = story.segment(parent_id)
            if choice_index is None or not 0 <= choice_index < len(parent.choices):
                raise IndexError(f"segment {parent_id}: choice {choice_index} not in 0..{len(parent.choices) - 1}")
            choice_text = parent.choices[choice_index]
        else:
            choice_index = None
        own = cancel_event is None
        event = self._cancel if cancel_event is None else cancel_event
        if own:
            self._cancel.clear()
            self._stop.clear()
        messages = segment_messages(story, parent_id, choice_text or None)
        pieces: list[str] = []
        interrupted: BaseException | None = None
        stopped = False
        try:
            cut = yield from self._stream_text(messages, pieces, event, self._stop if own else None)
        except KeyboardInterrupt as exc:  # the kernel's Interrupt: keep what was written
            interrupted, cut, stopped = exc, None, True
        except _Stopped:
            cut, stopped = None, True
        raw = "".join(pieces)
        text = clean_generated_text(raw[:cut] if cut is not None else raw)
        if stopped:
            segment = self._add_segment(
                parent_id, choice_index, choice_text, text, raw, [], "", make_current, visited, unfinished=True
            )
            if interrupted is not None:
                raise interrupted
            return segment
        narrative, choices, source = self._finish_choices(text)
        segment = self._add_segment(
            parent_id, choice_index, choice_text, narrative, raw, choices, source, make_current, visited
        )
        if visited or self.prefetch_images:
            self.schedule_image(segment.id)
        return segment

    def _stream_text(
        self,
        messages: list[Message],
        pieces: list[str],
        cancel: threading.Event,
        stop: threading.Event | None,
    ) -> Generator[str, None, int | None]:
        """Stream one answer into ``pieces`` under the LLM lock; returns the loop-guard cut.

        Raises:
            Cancelled: ``cancel`` was set. _Stopped: ``stop`` was set (keep the text).
        """
        opts: dict[str, Any] = {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "stop": SEGMENT_STOP,
        }
        with self._llm_lock:
            if cancel.is_set():
                raise Cancelled("segment generation cancelled")
            if stop is not None and stop.is_set():
                raise _Stopped
            stream = self.llm.stream(messages, **opts)
            try:
                for chunk in stream:
                    if cancel.is_set():
                        raise Cancelled("segment generation cancelled")
                    if stop is not None and stop.is_set():
                        raise _Stopped
                    if not chunk:
                        continue
                    pieces.append(chunk)
                    yield chunk
                    cut = degeneration_cut("".join(pieces))
                    if cut is not None:  # the model is looping: stop and keep what came before
                        return cut
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
        return None

    def _finish_choices(self, text: str) -> tuple[str, list[str], str]:
        """``(narrative, 2-4 choices, source)`` of a generated text (asking again when needed)."""
        found = extract_choices(text)
        narrative, choices = found.narrative, found.choices
        source: Literal["text", "structured", "default"] = "text"
        if len(choices) < MIN_CHOICES:
            asked = self._ask_choices(narrative or text)
            if asked:
                choices, source = asked, "structured"
            else:
                source = "default"
                choices = choices + default_choices(self.story.settings.language)
        return narrative, finalize_choices(choices, self.story.settings.language), source

    def _add_segment(
        self,
        parent_id: str | None,
        choice_index: int | None,
        choice_text: str,
        text: str,
        raw: str,
        choices: list[str],
        source: str,
        make_current: bool,
        visited: bool,
        *,
        unfinished: bool = False,
    ) -> Segment:
        settings = GenerationSettings(
            llm=self.llm_name or "",
            model=getattr(self._llm, "model", None),
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens,
            seed=self.seed,
        )
        with self._state_lock:
            segment = Segment(
                id=self.story.new_segment_id(),
                parent_id=parent_id,
                choice_index=choice_index,
                choice_text=choice_text,
                text=text,
                raw_text=raw,
                choices=choices,
                choices_source=source,  # type: ignore[arg-type]  # one of the literal values above
                settings=settings,
                unfinished=unfinished,
                visited=visited,
            )
            self.story.add(segment)
            if make_current:
                self.story.current_id = segment.id
            self._autosave()
        return segment

    def continue_stream(self, segment_id: str | None = None) -> Generator[str, None, Segment]:
        """Finish an unfinished segment (default: the current one): the model continues its
        text, the new text is appended and the choices extracted; yields the new chunks.

        Raises:
            ConfigError: the segment is not unfinished.
            KeyError, BackendError, Cancelled: as :meth:`generate_stream`. A new :meth:`stop`
                keeps the longer text, still unfinished.
        """
        sid = segment_id or self.story.current_id
        if sid is None:
            raise ConfigError("story has no segment to continue")
        seg = self.story.segment(sid)
        if not seg.unfinished:
            raise ConfigError(f"segment {sid} is finished: choose, or Regenerate it")
        self._cancel.clear()
        self._stop.clear()
        messages = continue_messages(self.story, seg)
        pieces: list[str] = []
        interrupted: BaseException | None = None
        stopped = False
        try:
            cut = yield from self._stream_text(messages, pieces, self._cancel, self._stop)
        except KeyboardInterrupt as exc:
            interrupted, cut, stopped = exc, None, True
        except _Stopped:
            cut, stopped = None, True
        raw = "".join(pieces)
        more = clean_generated_text(raw[:cut] if cut is not None else raw)
        joined = (seg.text.rstrip() + " " + more.lstrip()).strip() if more else seg.text
        with self._state_lock:
            seg.raw_text = seg.raw_text + raw
            if stopped:
                seg.text = joined
            else:
                narrative, choices, source = self._finish_choices(joined)
                seg.text, seg.choices, seg.choices_source = narrative, choices, source  # type: ignore[assignment]
                seg.unfinished = False
            self._autosave()
        if interrupted is not None:
            raise interrupted
        if not seg.unfinished:
            self.schedule_image(seg.id)
        return seg

    def continue_segment(self, segment_id: str | None = None, on_chunk: ChunkCallback | None = None) -> Segment:
        """Finish an unfinished segment (see :meth:`continue_stream`)."""
        return self.run_stream(self.continue_stream(segment_id), on_chunk)

    def _ask_choices(self, narrative: str) -> list[str]:
        """Three choices from a structured request, ``[]`` when it fails."""
        try:
            with self._llm_lock:
                answer = self.llm.structured(
                    choices_messages(narrative, self.story.settings.language),
                    ChoiceList,
                    attempts=1,
                    max_tokens=120,
                    temperature=0.5,
                )
        except (StorybenchError, ValueError):
            return []
        return finalize_choices(answer.choices, self.story.settings.language) if answer.choices else []

    def run_stream(self, gen: Generator[str, None, Segment], on_chunk: ChunkCallback | None) -> Segment:
        """Drive a generator of :meth:`generate_stream` / :meth:`continue_stream` to its end,
        handing each chunk to ``on_chunk``; returns its segment. A ``KeyboardInterrupt`` in
        ``on_chunk`` is passed into the generator (it keeps the text, then re-raises)."""
        try:
            while True:
                try:
                    chunk = next(gen)
                except StopIteration as stop:
                    return stop.value
                if on_chunk is not None:
                    try:
                        on_chunk(chunk)
                    except KeyboardInterrupt as exc:
                        gen.throw(exc)  # the generator keeps the text as an unfinished segment, re-raises
        finally:
            gen.close()  # releases the LLM lock and the backend's stream if on_chunk raised

    def start(self, on_chunk: ChunkCallback | None = None) -> Segment:
        """Generate an opening segment (a new one beside any earlier openings) and make it current.

        Args:
            on_chunk: called with each text chunk as it streams.

        Raises:
            BackendError, Cancelled: see :meth:`generate_stream`.
        """
        return self.run_stream(self.generate_stream(None, None), on_chunk)

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
            IndexError, KeyError, BackendError, Cancelled: see :meth:`generate_stream`.
        """
        parent_id = from_id or self.story.current_id
        if parent_id is None:
            raise ConfigError("story has no segment yet: start it first")
        ready = self.prefetched(parent_id, choice_index) if use_prefetched else None
        if ready is not None:
            return self.visit(ready.id)
        return self.run_stream(self.generate_stream(parent_id, choice_index), on_chunk)

    def prefetched(self, parent_id: str, choice_index: int) -> Segment | None:
        """The newest finished, not yet visited continuation of a choice (written ahead by
        the prefetcher), ``None`` when there is none."""
        with self._state_lock:
            ready = [s for s in self.story.children_for(parent_id, choice_index) if not s.visited and not s.unfinished]
        return ready[-1] if ready else None

    def visit(self, segment_id: str) -> Segment:
        """Make a segment current and mark it visited; its illustration is scheduled if it
        has none yet.

        Raises:
            KeyError: unknown segment.
        """
        with self._state_lock:
            seg = self.story.segment(segment_id)
            seg.visited = True
            self.story.current_id = seg.id
            self._autosave()
            fut = self._futures.get(seg.id)
            needs_image = seg.image_status != "done" and not seg.unfinished and (fut is None or fut.done())
        if needs_image:
            self.schedule_image(seg.id)
        return seg

    def regenerate(self, segment_id: str | None = None, on_chunk: ChunkCallback | None = None) -> Segment:
        """Write a new version of ``segment_id`` (default: the current one) for the same
        parent and choice. The old version and its descendants stay as a sibling branch.

        Raises:
            ConfigError: there is no segment to regenerate.
            KeyError, BackendError, Cancelled: see :meth:`generate_stream`.
        """
        sid = segment_id or self.story.current_id
        if sid is None:
            raise ConfigError("story has no segment to regenerate")
        old = self.story.segment(sid)
        return self.run_stream(self.generate_stream(old.parent_id, old.choice_index), on_chunk)

    def back(self, segment_id: str | None = None) -> Segment:
        """Go back to ``segment_id`` (an ancestor or any segment), default the parent of the
        current one. Nothing is deleted.

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
        with self._state_lock:
            seg = self.story.segment(segment_id)
            self.story.current_id = seg.id
            self._autosave()
        return seg

    def cancel(self) -> None:
        """Abandon the text generation in progress (it raises :class:`Cancelled`; nothing is kept)."""
        self._cancel.set()

    def stop(self) -> None:
        """Stop the text generation in progress at the next chunk, keeping its text as an
        unfinished segment, and stop the illustration of the current segment if it has not
        started rendering (one rendering finishes in its thread; its segment stays as it is).
        Safe to call from any thread."""
        self._stop.set()
        cur = self.story.current
        if cur is not None:
            self.cancel_image(cur.id)

    # --------------------------------------------------------- persistence
    def _autosave(self) -> None:
        if self.autosave:
            self.save()

    def save(self, path: str | os.PathLike[str] | None = None, *, overwrite: bool = False) -> Path:
        """Save the story JSON atomically to its own file (:attr:`story_path`) or to ``path``
        (a copy; the story keeps its folder).

        Args:
            path: where to write a copy (default: the story's own file).
            overwrite: write even when ``path`` holds another story.

        Raises:
            StoryConflict: the file holds another story (and ``overwrite`` is false).
            OSError: the folder cannot be written.
        """
        target = Path(path) if path is not None else self.story_path
        with self._state_lock:
            if not overwrite:
                check_target(self.story, target)
            return self.story.save(target)

    def save_as(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Save the story to ``path`` and make it the story's file from now on: its
        illustrations are copied to ``path``'s folder, which becomes :attr:`story_dir`
        (autosaves go there).

        Raises:
            StoryConflict: ``path`` holds another story (and ``overwrite`` is false).
            OSError: the folder cannot be written.
        """
        target = Path(path)
        with self._state_lock:
            if not overwrite:
                check_target(self.story, target)
            copy_images(self.story, self.story_dir, target.parent)
            written = self.story.save(target)
            self.story_dir, self._story_file = target.parent, target.name
        return written

    def close(self) -> None:
        """Cancel queued illustrations (one already rendering finishes in its thread) and
        close the backends this engine created from names (not the ones passed in)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
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
