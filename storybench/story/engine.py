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
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Literal

from storybench.exceptions import BackendError, Cancelled, ConfigError, StorybenchError
from storybench.io import atomic_write_bytes
from storybench.llm.base import LLMBackend, get_llm_backend
from storybench.render.base import ImageBackend, get_image_backend
from storybench.story.choices import (
    MIN_CHOICES,
    ChoiceList,
    default_choices,
    extract_choices,
    finalize_choices,
)
from storybench.story.illustration import IllustrationPrompter, illustration_render_spec
from storybench.story.model import GenerationSettings, Segment, Story, StorySettings
from storybench.story.prompts import SEGMENT_STOP, choices_messages, segment_messages
from storybench.story.repetition import degeneration_cut

__all__ = ["DEFAULT_OUTPUT_ROOT", "ChunkCallback", "SegmentCallback", "StoryEngine", "clean_generated_text"]

DEFAULT_OUTPUT_ROOT = "outputs/stories"

ChunkCallback = Callable[[str], None]
SegmentCallback = Callable[[Segment], None]

_CHAT_MARKERS = re.compile(r"<\|[a-z_]+\|>|</?s>|\[/?INST\]", re.I)
_ROLE_PREFIX = re.compile(r"^\s*(?:assistant|narrator|рассказчик|оповідач)\s*:\s*", re.I)


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


class StoryEngine:
    """Generates and illustrates the segments of one story.

    Args:
        story: the story to drive (a :class:`Story`, or :class:`StorySettings` for a new one).
        llm: an LLM backend or its registered name (created on first use).
        image_backend: an image backend, its registered name, or ``None`` for no images.
        output_root: folder holding story folders; the story's is ``output_root/<story.id>``.
        story_dir: the story folder itself (overrides ``output_root``).
        inline_images: render illustrations in the calling thread (tests, scripts).
        autosave: save ``story.json`` after every change.
        max_tokens: token budget of one segment's text.
        temperature, top_p, seed: sampling settings of segment requests.
        llm_options: options passed to :func:`get_llm_backend` when ``llm`` is a name.
        image_options: options passed to :func:`get_image_backend` when ``image_backend`` is a name.
        on_image: called (from the render thread) when a segment's image status changes.

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
        self.story_dir = Path(story_dir) if story_dir is not None else Path(output_root) / self.story.id
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
        """``<story_dir>/story.json``."""
        return self.story_dir / "story.json"

    # ---------------------------------------------------------- generation
    def generate_stream(
        self, parent_id: str | None = None, choice_index: int | None = None
    ) -> Generator[str, None, Segment]:
        """Generate the segment continuing ``parent_id`` after its choice ``choice_index``
        (an opening when ``parent_id`` is ``None``), yielding text chunks as they come.

        The generator's return value (``StopIteration.value``, or ``yield from``) is the new
        segment, already added to the story and current; its image is scheduled.

        Raises:
            KeyError: unknown ``parent_id``.
            IndexError: ``choice_index`` out of range.
            BackendError: the LLM failed (nothing is added to the story).
            Cancelled: :meth:`cancel` was called during generation.
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
        self._cancel.clear()
        messages = segment_messages(story, parent_id, choice_text or None)
        opts: dict[str, Any] = {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "stop": SEGMENT_STOP,
        }
        pieces: list[str] = []
        cut: int | None = None
        with self._llm_lock:
            llm = self.llm
            stream = llm.stream(messages, **opts)
            try:
                for chunk in stream:
                    if self._cancel.is_set():
                        raise Cancelled("segment generation cancelled")
                    if not chunk:
                        continue
                    pieces.append(chunk)
                    yield chunk
                    cut = degeneration_cut("".join(pieces))
                    if cut is not None:  # the model is looping: stop and keep what came before
                        break
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
        raw = "".join(pieces)
        text = clean_generated_text(raw[:cut] if cut is not None else raw)
        found = extract_choices(text)
        narrative, choices = found.narrative, found.choices
        source: Literal["text", "structured", "default"] = "text"
        if len(choices) < MIN_CHOICES:
            asked = self._ask_choices(narrative or text)
            if asked:
                choices, source = asked, "structured"
            else:
                source = "default"
                choices = choices + default_choices(story.settings.language)
        choices = finalize_choices(choices, story.settings.language)
        settings = GenerationSettings(
            llm=self.llm_name or "",
            model=getattr(llm, "model", None),
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens,
            seed=self.seed,
        )
        with self._state_lock:
            segment = Segment(
                id=story.new_segment_id(),
                parent_id=parent_id,
                choice_index=choice_index,
                choice_text=choice_text,
                text=narrative,
                raw_text=raw,
                choices=choices,
                choices_source=source,
                settings=settings,
            )
            story.add(segment)
            story.current_id = segment.id
            self._autosave()
        self.schedule_image(segment.id)
        return segment

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

    def _run(self, gen: Generator[str, None, Segment], on_chunk: ChunkCallback | None) -> Segment:
        try:
            while True:
                try:
                    chunk = next(gen)
                except StopIteration as stop:
                    return stop.value
                if on_chunk is not None:
                    on_chunk(chunk)
        finally:
            gen.close()  # releases the LLM lock and the backend's stream if on_chunk raised

    def start(self, on_chunk: ChunkCallback | None = None) -> Segment:
        """Generate an opening segment (a new one beside any earlier openings) and make it current.

        Args:
            on_chunk: called with each text chunk as it streams.

        Raises:
            BackendError, Cancelled: see :meth:`generate_stream`.
        """
        return self._run(self.generate_stream(None, None), on_chunk)

    def choose(
        self, choice_index: int, on_chunk: ChunkCallback | None = None, *, from_id: str | None = None
    ) -> Segment:
        """Follow choice ``choice_index`` of the current segment (or of ``from_id``, an
        earlier one: a new branch) and make the new segment current.

        Raises:
            ConfigError: there is no current segment (call :meth:`start`).
            IndexError, KeyError, BackendError, Cancelled: see :meth:`generate_stream`.
        """
        parent_id = from_id or self.story.current_id
        if parent_id is None:
            raise ConfigError("story has no segment yet: start it first")
        return self._run(self.generate_stream(parent_id, choice_index), on_chunk)

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
        return self._run(self.generate_stream(old.parent_id, old.choice_index), on_chunk)

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
        """Stop the text generation in progress (it raises :class:`Cancelled`)."""
        self._cancel.set()

    # -------------------------------------------------------------- images
    def schedule_image(self, segment_id: str) -> Future[None] | None:
        """Illustrate ``segment_id`` in the background (inline with ``inline_images``).

        Returns:
            The future of the work, or ``None`` when images are off or it ran inline.
        """
        if not self.image_backend_name:
            return None
        with self._state_lock:
            self.story.segment(segment_id).image_status = "pending"
            self.story.segment(segment_id).image_error = ""
        if self.inline_images:
            self._illustrate(segment_id)
            return None
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"story-{self.story.id}")
        fut = self._executor.submit(self._illustrate, segment_id)
        self._futures[segment_id] = fut
        return fut

    def retry_image(self, segment_id: str) -> Future[None] | None:
        """Render a segment's illustration again (after a failure, or to refresh it)."""
        return self.schedule_image(segment_id)

    def _set_image(self, seg: Segment, **fields: Any) -> None:
        with self._state_lock:
            for key, value in fields.items():
                setattr(seg, key, value)
            self._autosave()
        if self.on_image is not None:
            with contextlib.suppress(Exception):  # a broken listener must not break rendering
                self.on_image(seg)

    def _illustrate(self, segment_id: str) -> None:
        seg = self.story.segment(segment_id)
        self._set_image(seg, image_status="rendering", image_error="")
        try:
            style = self.story.settings.style
            prompt = seg.illustration_prompt or self.prompter(seg.text or seg.raw_text, style)
            self._set_image(seg, illustration_prompt=prompt)
            backend = self.image_backend
            if backend is None:
                raise ConfigError("no image backend")
            spec = illustration_render_spec(
                prompt,
                style=style,
                story_id=self.story.id,
                segment_id=seg.id,
                width=self.story.settings.image_width,
                height=self.story.settings.image_height,
            )
            result = backend.render(spec)
            ext = "png" if result.mime == "image/png" else result.mime.rsplit("/", 1)[-1]
            rel = f"images/{seg.id}.{ext}"
            atomic_write_bytes(self.story_dir / rel, result.image)
            self._set_image(seg, image_path=rel, image_status="done", image_error="")
        except Exception as exc:
            msg = str(exc) if isinstance(exc, (BackendError, StorybenchError)) else f"{type(exc).__name__}: {exc}"
            self._set_image(seg, image_status="failed", image_error=msg or type(exc).__name__)

    def wait_images(self, timeout: float | None = None) -> bool:
        """Wait for scheduled illustrations, at most ``timeout`` seconds.

        Returns:
            Whether every one finished.
        """
        pending = [f for f in self._futures.values() if not f.done()]
        if not pending:
            return True
        _, not_done = wait(pending, timeout=timeout)
        return not not_done

    def image_file(self, segment_id: str) -> Path | None:
        """The absolute path of a segment's illustration, ``None`` until rendered."""
        seg = self.story.segment(segment_id)
        if seg.image_status != "done" or not seg.image_path:
            return None
        return self.story_dir / seg.image_path

    # --------------------------------------------------------- persistence
    def _autosave(self) -> None:
        if self.autosave:
            self.save()

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Save the story JSON (default ``<story_dir>/story.json``) atomically.

        Raises:
            OSError: the folder cannot be written.
        """
        with self._state_lock:
            return self.story.save(path if path is not None else self.story_path)

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
