"""A segment's request as the continuation of its parent's: the story as one chat transcript.

A backend with a prompt cache (the embedded llama.cpp, Ollama, llama-server, vLLM)
evaluates only what a prompt adds to the one it evaluated before. A request built
afresh from the context (premise, world, memory, the recent scenes in one user
message) shares little more than the system prompt and the premise with the request
before it, so a click on a choice waited for hundreds of tokens of prompt evaluation
before its first word.

So the request of a segment after a choice is, when it fits, the parent's own request
unchanged, then the parent as the assistant's turn, then one short user turn (the
world entries that fire now and were not sent before, the chapter, the reader's
choice, the author's note; :func:`~storybench.story.messages.turn_message`). What a
cache holds after the parent was written is a prefix of it: only the new turn is
evaluated. Prefetched continuations of the parent's other choices share the same
prefix.

When the transcript would not fit the context window (answer included), or the
parent's request is not known (a story loaded from disk, an unfinished parent), the
request is built afresh from the context (a *rebase*: summaries and trimming apply)
and later requests continue that one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from storybench.llm.base import Message
from storybench.story.context_record import BlockRecord, ContextRecord
from storybench.story.model import Segment
from storybench.world.context import Context

__all__ = ["MESSAGE_OVERHEAD", "Request", "Sent", "answer_turn", "chain", "fired_uids", "new_world"]

MESSAGE_OVERHEAD = 8
"""Tokens a chat template adds around one message (role markers, newlines), an upper bound."""


@dataclass(frozen=True)
class Sent:
    """What one segment was written from, kept in memory so its children continue it.

    Attributes:
        messages: the request's chat messages.
        fired: uids of the world entries the request carries.
        answer: the segment as the assistant's turn of a child's request ("" until it is kept).
    """

    messages: tuple[Message, ...]
    fired: frozenset[int] = frozenset()
    answer: str = ""

    def answered(self, answer: str) -> Sent:
        """This request with the segment's answer."""
        return replace(self, answer=answer)


@dataclass(frozen=True)
class Request:
    """The request of one new segment.

    Attributes:
        messages: the chat messages to send.
        context: the context built afresh for the segment (its world info is told to a
            choices re-ask, whether or not the request continues the parent's).
        record: what the model receives, for the Context view.
        sent: what to keep for the segment's children.
    """

    messages: list[Message]
    context: Context
    record: ContextRecord
    sent: Sent = field(repr=False, default_factory=lambda: Sent(()))


def answer_turn(segment: Segment, text: str) -> str:
    """The assistant's turn of ``segment`` in its children's requests: the answer as the
    model wrote it (``text``, the cleaned draft) when its choices came from it, else the
    narrative and the numbered choices the reader saw."""
    if segment.choices_source == "text" and text.strip():
        return text
    numbered = "\n".join(f"{i}. {c}" for i, c in enumerate(segment.choices, 1))
    return f"{segment.text}\n\n{numbered}".strip()


def new_world(context: Context, sent: frozenset[int]) -> tuple[str, list[int]]:
    """The world info of ``context`` not yet in the transcript: ``(text, uids)``."""
    firings = [f for f in context.report.fired if f.entry.uid not in sent]
    return "\n\n".join(f.entry.content for f in firings), [f.entry.uid for f in firings]


def chain(
    parent: Segment,
    sent: Sent,
    turn: Message,
    fresh: Context,
    fresh_record: ContextRecord,
    *,
    count: Callable[[str], int],
    window: int,
    answer_tokens: int,
    note: str = "",
) -> Request | None:
    """The request continuing ``parent``'s (see the module doc), ``None`` when it would not
    fit ``window`` tokens with ``answer_tokens`` to spare (then build it afresh).

    Args:
        parent: the segment continued (its record, if any, heads the new record).
        sent: what ``parent`` was written from, with its answer.
        turn: the new user turn.
        fresh, fresh_record: the context built afresh for the new segment and its record.
        count: the token counter; window: the context window, tokens.
        answer_tokens: tokens kept free for the answer; note: the author's note in ``turn``.
    """
    messages = [*sent.messages, Message(role="assistant", content=sent.answer), turn]
    total = sum(count(m.content) for m in messages) + MESSAGE_OVERHEAD * len(messages)
    if total + answer_tokens > window:
        return None
    world, uids = new_world(fresh, sent.fired)
    blocks = [
        *(parent.context.blocks if parent.context is not None else []),
        BlockRecord(kind="segment", source=parent.id, tokens=count(sent.answer)),
        *([BlockRecord(kind="world_after", source=_uids(uids), tokens=count(world), text=world)] if world else []),
        *([BlockRecord(kind="author_note", tokens=count(note), text=note)] if note else []),
    ]
    before = parent.context
    record = fresh_record.model_copy(
        update={
            "blocks": blocks,
            "continues": parent.id,
            "tokens": total,
            "budget": window - answer_tokens,
            "fired": [*(before.fired if before else []), *(f for f in fresh_record.fired if f.uid in uids)],
            "summary_of": before.summary_of if before is not None else None,
            "segments_in_full": [*(before.segments_in_full if before else []), parent.id],
            "trimmed": [],
        }
    )
    return Request(messages, fresh, record, Sent(tuple(messages), sent.fired | set(uids)))


def fired_uids(context: Context) -> frozenset[int]:
    """The uids of the world entries a context placed."""
    return frozenset(f.entry.uid for f in context.report.fired)


def _uids(uids: Sequence[int]) -> str:
    return ",".join(str(u) for u in uids)
