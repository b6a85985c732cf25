"""A story's memory: the context of each new segment, and the rolling summaries of its branches.

:class:`BranchMemory` builds the context of a new segment with
:func:`~storybench.world.context.build_context` over the segment's own ancestors
(never its siblings), the story's world, its author's note and its summaries, with
the token counter of the LLM backend (the model's own tokenizer when the backend
has ``count_tokens``, as the embedded llama.cpp one does; else an estimate of
characters / 4) and the model's context window (the backend's ``n_ctx``, else
2048). The last context of every segment is kept in memory (:meth:`BranchMemory.context_of`)
and on the segment, compactly (:class:`~storybench.story.context_record.ContextRecord`).

:meth:`BranchMemory.request` gives a new segment's request: the parent's request
continued as a chat transcript when it is known and fits (so a prompt cache evaluates
only the new turn, :mod:`storybench.story.transcript`), else the request built afresh
from the context.

After a segment is written, its rolling summary (the story up to and including it)
is written once by :func:`~storybench.world.summary.write_summary` from its parent's
summary, in a worker thread through the LLM gate's background entry (the reader's
requests go first), and stored on the segment; later segments of the same branch
get it once it has left the last ``recent_segments``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from storybench.llm.base import LLMBackend, Message
from storybench.story.context_record import ContextRecord
from storybench.story.llm_gate import LLMGate
from storybench.story.messages import (
    continue_messages,
    segment_head,
    segment_messages,
    system_prompt,
    turn_head,
    turn_message,
)
from storybench.story.model import Segment
from storybench.story.session import StorySession
from storybench.story.transcript import MESSAGE_OVERHEAD, Request, Sent, answer_turn, chain, fired_uids, new_world
from storybench.story.writer import STORY_CACHE_SLOT
from storybench.world.activation import SemanticIndex, estimate_tokens
from storybench.world.context import Context, SegmentText, build_context
from storybench.world.memory import SemanticMemory
from storybench.world.summary import write_summary

__all__ = [
    "DEFAULT_CONTEXT_WINDOW",
    "TURNS_AHEAD",
    "BranchMemory",
    "Built",
    "context_window_of",
    "recall_index",
    "token_counter",
    "world_text",
]

log = logging.getLogger(__name__)
DEFAULT_CONTEXT_WINDOW = 2048
_PROMPT_ROOM = 400
"""Tokens kept for the system prompt and the request lines around the context blocks."""
TURNS_AHEAD = 2
"""With transcripts on, a request built afresh leaves room for this many more answers and
turns (at most a third of its budget), so the requests after it continue it instead of
each being built afresh again."""
_TURN_TOKENS = 60
"""Tokens of one user turn of a transcript (the choice, the chapter, the language), about."""


Built = tuple[Context, ContextRecord]
"""A built context and its record (:meth:`BranchMemory.build`)."""


def world_text(context: Context) -> str:
    """The world info a context placed (every world block, in order), ``""`` when none fired."""
    return context.text(["world_before", "world_depth", "world_after"])


def recall_index(enabled: bool) -> SemanticIndex | None:
    """A :class:`~storybench.world.memory.SemanticMemory` (multilingual-e5-small, the
    ``storybench[memory]`` extra, loaded on first use) when ``enabled``, else ``None``."""
    return SemanticMemory() if enabled else None


def token_counter(llm: LLMBackend) -> tuple[Callable[[str], int], str]:
    """``(count, how)``: the backend's own token counter (``"tokenizer"``) when it has
    ``count_tokens``, else :func:`~storybench.world.activation.estimate_tokens` (``"estimate"``)."""
    count = getattr(llm, "count_tokens", None)
    if callable(count):
        return count, "tokenizer"
    return estimate_tokens, "estimate"


def context_window_of(llm: LLMBackend) -> int:
    """The backend's context window in tokens (its ``n_ctx``), else :data:`DEFAULT_CONTEXT_WINDOW`."""
    n_ctx = getattr(llm, "n_ctx", None)
    return n_ctx if isinstance(n_ctx, int) and n_ctx > 0 else DEFAULT_CONTEXT_WINDOW


class BranchMemory:
    """Contexts and summaries of one story (see the module doc).

    Args:
        session: the story's session (graph, lock, autosave).
        llm: gives the LLM backend (called on first use).
        gate: the story's LLM gate (summaries enter it as background work).
        answer_tokens: tokens kept free for the answer (the segment's ``max_tokens``).
        summaries: write rolling summaries at all.
        transcript: continue the parent's request when it fits (:meth:`request`).
        inline: write summaries in the calling thread (tests, scripts).
        semantic: recall world entries by meaning too (``None``: keys only); a
            :class:`~storybench.world.memory.SemanticMemory` needs ``storybench[memory]``.
    """

    def __init__(
        self,
        session: StorySession,
        llm: Callable[[], LLMBackend],
        gate: LLMGate,
        *,
        answer_tokens: int = 300,
        summaries: bool = True,
        transcript: bool = True,
        inline: bool = False,
        semantic: SemanticIndex | None = None,
    ) -> None:
        self.session = session
        self._llm = llm
        self.gate = gate
        self.answer_tokens = answer_tokens
        self.summaries = summaries
        self.transcript = transcript
        self.inline = inline
        self.semantic = semantic
        self._contexts: dict[str, Context] = {}
        self._sent: dict[str, Sent] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._futures: list[Future[None]] = []

    # ------------------------------------------------------------ contexts
    def build(self, parent_id: str | None, choice_text: str = "") -> Built:
        """The context of a new segment continuing ``parent_id`` after ``choice_text``.

        Raises:
            ContextBudgetError: the premise, the newest segment and the author's note do not fit.
            MissingDependencyError: recall by meaning is on without ``storybench[memory]``.
        """
        story = self.session.story
        s = story.settings
        with self.session.lock:
            path = story.path(parent_id) if parent_id is not None else []
            ancestors = [SegmentText(p.id, p.text, p.summary or None, p.choice_text) for p in path]
        llm = self._llm()
        count, how = token_counter(llm)
        context = build_context(
            s.premise,
            ancestors,
            story.world,
            recent=s.recent_segments,
            author_note=s.author_note,
            author_note_depth=s.author_note_depth,
            count_tokens=count,
            context_window=context_window_of(llm),
            reserve=self._reserve(context_window_of(llm)),
            scan_before=[s.premise],
            scan_after=[choice_text] if choice_text else [],
            semantic=self.semantic,
        )
        return context, ContextRecord.of(context, how)

    def _reserve(self, window: int) -> int:
        """Tokens a context built afresh leaves free: the answer, the prompt's own lines and,
        with transcripts, room for :data:`TURNS_AHEAD` more turns."""
        reserve = self.answer_tokens + _PROMPT_ROOM
        if self.transcript:
            reserve += min(TURNS_AHEAD * (self.answer_tokens + _TURN_TOKENS), max(0, window - reserve) // 3)
        return reserve

    def request(self, parent_id: str | None, choice_text: str = "") -> Request:
        """The request of a new segment after ``parent_id``'s choice ``choice_text`` (an
        opening when ``parent_id`` is ``None``): the parent's request continued when it is
        known and the transcript fits the window, else built afresh from the context.

        Raises:
            ContextBudgetError, MissingDependencyError: see :meth:`build`.
        """
        context, record = self.build(parent_id, choice_text)
        story = self.session.story
        sent = self._sent.get(parent_id) if parent_id is not None else None
        if parent_id is not None and sent is not None and self._chained_head(parent_id) is not None:
            world, _uids = new_world(context, sent.fired)
            note = story.settings.author_note.strip()
            llm = self._llm()
            count, _how = token_counter(llm)
            continued = chain(
                story.segment(parent_id),
                sent,
                turn_message(story, parent_id, choice_text, world, note),
                context,
                record,
                count=count,
                window=context_window_of(llm),
                answer_tokens=self.answer_tokens,
                note=note,
            )
            if continued is not None:
                return continued
        messages = segment_messages(story, parent_id, choice_text or None, context)
        return Request(messages, context, record, Sent(tuple(messages), fired_uids(context)))

    def prime(self, seg: Segment) -> bool:
        """Have the backend evaluate what every request after ``seg``'s choices begins with, so
        a click on any choice waits only for the choice's own words: ``seg``'s transcript and
        the head of the next turn (:func:`~storybench.story.messages.turn_head`) when the next
        request continues it, else the head of the request built afresh
        (:func:`~storybench.story.messages.segment_head`). Through the gate's urgent entry;
        nothing for an unfinished segment or a backend without a prompt cache of its own.

        Returns:
            Whether the backend evaluated anything (a failure is logged, never raised).
        """
        if seg.unfinished or not seg.choices:
            return False
        try:
            messages = self._chained_head(seg.id) or self._fresh_head(seg)
            with self.gate.urgent():
                return self._llm().prefill(messages, cache_slot=STORY_CACHE_SLOT)
        except Exception as exc:  # a head start is an extra: its failure must not break the story
            log.debug("prefill after %s failed: %s", seg.id, exc)
            return False

    def _chained_head(self, segment_id: str) -> list[Message] | None:
        """A segment's transcript and the next turn's head, ``None`` when the next request does
        not continue it (transcripts off, no known answer, or less than :data:`_TURN_TOKENS` and
        the answer left in the window): :meth:`request` and :meth:`prime` decide alike."""
        sent = self._sent.get(segment_id)
        if not self.transcript or sent is None or not sent.answer:
            return None
        story = self.session.story
        head = Message(role="user", content=turn_head(story, segment_id, story.settings.author_note.strip()))
        messages = [*sent.messages, Message(role="assistant", content=sent.answer), head]
        llm = self._llm()
        count, _how = token_counter(llm)
        used = sum(count(m.content) for m in messages) + MESSAGE_OVERHEAD * len(messages)
        return None if used + _TURN_TOKENS + self.answer_tokens > context_window_of(llm) else messages

    def _fresh_head(self, seg: Segment) -> list[Message]:
        """The system prompt and the head of a request after ``seg`` built afresh (its context
        as for a choice that fires no world entry of its own)."""
        story = self.session.story
        head = segment_head(story, seg.id, self.build(seg.id, "")[0])
        return [
            Message(role="system", content=system_prompt(story.settings.style, story.settings.language)),
            Message(role="user", content=head),
        ]

    def prime_soon(self, seg: Segment) -> None:
        """:meth:`prime` in a thread of its own (inline with ``inline``), so the reader's view
        of a prefetched segment does not wait for it."""
        if seg.unfinished or not seg.choices:
            return
        if self.inline:
            self.prime(seg)
            return
        threading.Thread(target=self.prime, args=(seg,), name=f"prime-{seg.id}", daemon=True).start()

    def continue_request(self, seg: Segment) -> list[Message]:
        """The messages finishing the unfinished ``seg``: the request it was written from
        (when known in this session and there is room left for the answer, so a prompt cache
        reuses it; else built afresh), its text, a user turn."""
        story, sent = self.session.story, self._sent.get(seg.id)
        if sent is not None:
            messages = continue_messages(story, seg, request=list(sent.messages))
            llm = self._llm()
            count, _how = token_counter(llm)
            used = sum(count(m.content) for m in messages) + MESSAGE_OVERHEAD * len(messages)
            if used + self.answer_tokens <= context_window_of(llm):
                return messages
        return continue_messages(story, seg, self.build(seg.parent_id, seg.choice_text)[0])

    def sent(self, segment_id: str) -> Sent | None:
        """What a segment was written from in this session (``None``: not known)."""
        return self._sent.get(segment_id)

    def remember(self, seg: Segment, sent: Sent, text: str = "") -> None:
        """Keep what ``seg`` was written from, with ``seg`` as the answer its children's
        requests continue (``text``: the draft's cleaned answer, sent when its choices came from it)."""
        self._sent[seg.id] = sent if seg.unfinished else sent.answered(answer_turn(seg, text))

    def keep_context(self, segment_id: str, context: Context, record: ContextRecord) -> None:
        """Keep the context a segment was written from (in memory and on the segment)."""
        self._contexts[segment_id] = context
        self.session.update(self.session.story.segment(segment_id), context=record)

    def kept(self, seg: Segment, context: Context | None = None, record: ContextRecord | None = None) -> Segment:
        """After ``seg`` was kept: keep its context (when given) and schedule its summary (when
        finished); a finished segment's request gets it as the answer its children continue."""
        if context is not None and record is not None:
            self.keep_context(seg.id, context, record)
        if not seg.unfinished:
            sent = self._sent.get(seg.id)
            if sent is not None and not sent.answer:
                self._sent[seg.id] = sent.answered(answer_turn(seg, ""))
            self.schedule_summary(seg.id)
        return seg

    def context_of(self, segment_id: str) -> Context | None:
        """The full context a segment was written from in this session (``None``: not known;
        the segment's :attr:`~storybench.story.model.Segment.context` has the saved record)."""
        return self._contexts.get(segment_id)

    # ----------------------------------------------------------- summaries
    def schedule_summary(self, segment_id: str) -> Future[None] | None:
        """Write the rolling summary of ``segment_id`` (once; in the worker thread unless ``inline``).

        Returns:
            The future of the work, ``None`` when summaries are off or it ran inline.
        """
        if not self.summaries:
            return None
        if self.inline:
            self._summarise(segment_id)
            return None
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="story-memory")
        fut = self._executor.submit(self._summarise, segment_id)
        self._futures = [f for f in self._futures if not f.done()] + [fut]
        return fut

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for scheduled summaries, at most ``timeout`` seconds; whether every one finished."""
        pending = [f for f in self._futures if not f.done()]
        if not pending:
            return True
        _, not_done = wait(pending, timeout=timeout)
        return not not_done

    def close(self) -> None:
        """Drop queued summaries (one being written finishes in its thread)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def _summarise(self, segment_id: str) -> None:
        story = self.session.story
        seg = story.segment(segment_id)
        if seg.summary or seg.unfinished or not seg.text.strip():
            return
        parent = story.segments.get(seg.parent_id) if seg.parent_id else None
        previous = parent.summary if parent is not None and parent.summary else None
        try:
            with self.gate.background():
                summary = write_summary(self._llm(), previous, seg.text, language=story.settings.language)
        except Exception as exc:  # a summary is an extra: its failure must not break the story
            log.warning("summary of %s not written: %s", segment_id, exc)
            return
        with contextlib.suppress(KeyError):
            self.session.update(seg, summary=summary.text)
