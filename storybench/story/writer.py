"""The segment writer: one LLM answer streamed into a typed :class:`Draft`.

Everything a segment's text needs from the LLM is written once here:

* the request goes through the story's :class:`~storybench.story.llm_gate.LLMGate`
  (urgent for the reader's segment, background for prefetching, which then gives the
  LLM up when the reader asks for something);
* segment requests name the prompt-cache slot :data:`STORY_CACHE_SLOT`, so an
  embedded model keeps the story's transcript cached while one-shot requests
  (choices re-asks, summaries, illustration prompts) use another context;
* the loop guard (:func:`~storybench.story.repetition.degeneration_cut`) ends the
  stream when the model repeats itself and keeps what came before;
* Stop (an event) and the kernel's Interrupt (a ``KeyboardInterrupt`` between chunks,
  or thrown in by the caller's chunk callback) end the stream and keep the text so far:
  the draft is ``stopped`` and carries the interrupt for the caller to re-raise once the
  text is safe; Cancel raises :class:`~storybench.exceptions.Cancelled` and keeps nothing;
* the answer is cleaned (:func:`clean_generated_text`) and split into narrative and
  2-4 choices (:meth:`SegmentWriter.finish_choices`: from the text, else one structured
  re-ask, else language defaults).

:meth:`SegmentWriter.stream` gives a :class:`Writing` (iterate it for the chunks; its
``draft`` is set when it ends); :meth:`SegmentWriter.write` drives one with a callback
and returns the draft.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Literal

from storybench.exceptions import Cancelled, StorybenchError
from storybench.llm.base import LLMBackend, Message
from storybench.story.choices import MIN_CHOICES, ChoiceList, default_choices, extract_choices, finalize_choices
from storybench.story.llm_gate import LLMGate
from storybench.story.messages import SEGMENT_STOP, choices_messages
from storybench.story.repetition import degeneration_cut

__all__ = [
    "STORY_CACHE_SLOT",
    "ChoiceSource",
    "Draft",
    "SamplingOptions",
    "SegmentWriter",
    "Writing",
    "clean_generated_text",
]

STORY_CACHE_SLOT = "story"
"""The prompt-cache slot of segment requests: summaries, illustration prompts and choices
re-asks use the default one, so they never evict the story's cached transcript."""

ChoiceSource = Literal["text", "structured", "default"]
Priority = Literal["urgent", "background"]

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


@dataclass(frozen=True)
class SamplingOptions:
    """Sampling settings of a segment request.

    Attributes:
        max_tokens: token budget of one segment's text.
        temperature, top_p: sampling settings.
        seed: sampling seed (``None``: the backend's).
    """

    max_tokens: int = 300
    temperature: float = 0.7
    top_p: float = 0.9
    seed: int | None = None


@dataclass(frozen=True)
class Draft:
    """What one streamed answer gave.

    Attributes:
        raw: every chunk streamed, joined.
        text: the cleaned text, cut where the loop guard found the model repeating itself.
        stopped: Stop or the kernel's Interrupt ended it early (keep it as unfinished).
        interrupt: the ``KeyboardInterrupt`` to re-raise once the text is kept, if any.
    """

    raw: str
    text: str
    stopped: bool = False
    interrupt: BaseException | None = None

    def reraise(self) -> None:
        """Raise the kernel's Interrupt that ended this draft, if one did."""
        if self.interrupt is not None:
            raise self.interrupt


class Writing:
    """One answer being streamed: iterate it for the text chunks; :attr:`draft` is set
    when the iteration ends (``None`` while it runs, or when it was cancelled or closed).

    It is a generator-like object: :meth:`throw` passes a ``KeyboardInterrupt`` raised
    by the consumer in (the text so far is kept), :meth:`close` releases the LLM.
    """

    def __init__(self, run: Callable[[Writing], Generator[str, None, None]]) -> None:
        self.draft: Draft | None = None
        self._gen = run(self)

    def __iter__(self) -> Writing:
        return self

    def __next__(self) -> str:
        return next(self._gen)

    def throw(self, exc: BaseException) -> str:
        """Raise ``exc`` where the stream waits (see :meth:`generator.throw`)."""
        return self._gen.throw(exc)

    def close(self) -> None:
        """End the stream (the LLM is released)."""
        self._gen.close()


class SegmentWriter:
    """Streams segment texts from a story's LLM (see the module doc).

    Args:
        llm: gives the LLM backend (called on first use: the backend may be created lazily).
        gate: the story's LLM gate.
        sampling: the sampling settings.
    """

    def __init__(self, llm: Callable[[], LLMBackend], gate: LLMGate, sampling: SamplingOptions) -> None:
        self._llm = llm
        self.gate = gate
        self.sampling = sampling

    # ------------------------------------------------------------ streaming
    def stream(
        self,
        messages: list[Message],
        *,
        cancel: threading.Event,
        stop: threading.Event | None = None,
        priority: Priority = "urgent",
    ) -> Writing:
        """Start streaming the answer to ``messages`` (nothing happens until iterated).

        Args:
            messages: the chat messages of the request.
            cancel: set: the writing raises :class:`Cancelled` at the next chunk.
            stop: set: the writing ends at the next chunk, keeping its text (``stopped``).
            priority: ``"background"`` waits for urgent requests and raises
                :class:`Cancelled` when one arrives while it streams.
        """
        return Writing(lambda writing: self._run(writing, messages, cancel, stop, priority))

    def write(
        self,
        messages: list[Message],
        on_chunk: Callable[[str], None] | None = None,
        *,
        cancel: threading.Event,
        stop: threading.Event | None = None,
        priority: Priority = "urgent",
    ) -> Draft:
        """Stream the answer to ``messages``, handing each chunk to ``on_chunk``.

        A ``KeyboardInterrupt`` raised by ``on_chunk`` ends the writing like Stop; the
        draft carries it (:meth:`Draft.reraise`).

        Raises:
            Cancelled: ``cancel`` was set (or a background writing was preempted).
            BackendError: the LLM failed.
        """
        writing = self.stream(messages, cancel=cancel, stop=stop, priority=priority)
        try:
            for chunk in writing:
                if on_chunk is None:
                    continue
                try:
                    on_chunk(chunk)
                except KeyboardInterrupt as exc:
                    with contextlib.suppress(StopIteration):
                        writing.throw(exc)
                    break
        finally:
            writing.close()
        assert writing.draft is not None  # the iteration ended without Cancelled
        return writing.draft

    def _entry(self, priority: Priority) -> contextlib.AbstractContextManager[Any]:
        return self.gate.background() if priority == "background" else self.gate.urgent()

    def _run(
        self,
        writing: Writing,
        messages: list[Message],
        cancel: threading.Event,
        stop: threading.Event | None,
        priority: Priority,
    ) -> Generator[str, None, None]:
        progress = _Progress()

        def halt() -> bool:
            return _check(cancel, stop, priority == "background" and self.gate.preempted())

        try:
            with self._entry(priority):
                yield from self._pull(messages, progress, halt)
        except KeyboardInterrupt as exc:  # the kernel's Interrupt: keep what was written
            progress.interrupt, progress.stopped, progress.cut = exc, True, None
        writing.draft = progress.draft()

    def _pull(
        self, messages: list[Message], progress: _Progress, halt: Callable[[], bool]
    ) -> Generator[str, None, None]:
        """Stream the answer into ``progress`` until its end, ``halt()``, or the loop guard."""
        progress.stopped = halt()
        if progress.stopped:
            return
        stream = self.llm.stream(messages, **self._options())
        try:
            for chunk in stream:
                progress.stopped = halt()
                if progress.stopped:
                    break
                if not chunk:
                    continue
                progress.pieces.append(chunk)
                yield chunk
                progress.cut = degeneration_cut("".join(progress.pieces))
                if progress.cut is not None:  # the model is looping: stop and keep what came before
                    break
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    def _options(self) -> dict[str, Any]:
        s = self.sampling
        return {
            "max_tokens": s.max_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "seed": s.seed,
            "stop": SEGMENT_STOP,
            "cache_slot": STORY_CACHE_SLOT,
        }

    @property
    def llm(self) -> LLMBackend:
        """The LLM backend."""
        return self._llm()

    # -------------------------------------------------------------- choices
    def finish_choices(self, text: str, language: str, world: str = "") -> tuple[str, list[str], ChoiceSource]:
        """``(narrative, 2-4 choices, source)`` of a generated text: the choices from the
        text, else from one structured request (told the segment's ``world`` info), else
        the language's defaults."""
        found = extract_choices(text)
        narrative, choices = found.narrative, found.choices
        source: ChoiceSource = "text"
        if len(choices) < MIN_CHOICES:
            asked = self.ask_choices(narrative or text, language, world)
            if asked:
                choices, source = asked, "structured"
            else:
                source = "default"
                choices = choices + default_choices(language)
        return narrative, finalize_choices(choices, language), source

    def ask_choices(self, narrative: str, language: str, world: str = "") -> list[str]:
        """Three choices from a structured request (with the world info that fired), ``[]`` when it fails."""
        try:
            with self.gate.urgent():
                answer = self.llm.structured(
                    choices_messages(narrative, language, world),
                    ChoiceList,
                    attempts=1,
                    max_tokens=120,
                    temperature=0.5,
                )
        except (StorybenchError, ValueError):
            return []
        return finalize_choices(answer.choices, language) if answer.choices else []


@dataclass
class _Progress:
    """What a writing has streamed so far."""

    pieces: list[str] = field(default_factory=list)
    cut: int | None = None
    stopped: bool = False
    interrupt: BaseException | None = None

    def draft(self) -> Draft:
        raw = "".join(self.pieces)
        text = clean_generated_text(raw[: self.cut] if self.cut is not None else raw)
        return Draft(raw=raw, text=text, stopped=self.stopped, interrupt=self.interrupt)


def _check(cancel: threading.Event, stop: threading.Event | None, preempted: bool) -> bool:
    """Whether to stop here (keeping the text); raises :class:`Cancelled` when cancelled."""
    if cancel.is_set():
        raise Cancelled("segment generation cancelled")
    if preempted:
        raise Cancelled("background generation gave the LLM up to the reader")
    return stop is not None and stop.is_set()
