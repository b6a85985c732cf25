"""What the model received for one segment, compactly, as kept in the story file.

:class:`ContextRecord` is the saved form of a :class:`~storybench.world.context.ContextReport`
with its blocks: every block's kind, source and token count (the text of the
summary, the author's note and the world blocks; segment texts are in the graph
already), which world entries fired and why, which were dropped, the token count
against the budget. The explorer's Context view reads it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from storybench.world.context import Context

__all__ = ["BlockRecord", "ContextRecord", "FiredRecord"]

_TEXT_KINDS = {"summary", "author_note", "world_before", "world_after", "world_depth", "premise"}


class BlockRecord(BaseModel):
    """One block of the context, in prompt order.

    Attributes:
        kind: the block kind (:data:`storybench.world.context.BlockKind`).
        source: a segment id, or the uids of the world entries in it (``"3,7"``).
        tokens: its tokens.
        text: its text for premise, summary, author's note and world blocks ("" for segments).
    """

    model_config = ConfigDict(extra="ignore")

    kind: str
    source: str = ""
    tokens: int = 0
    text: str = ""


class FiredRecord(BaseModel):
    """A world entry that fired (or was dropped), and why.

    Attributes:
        uid: the entry's uid.
        title: its comment, else its first key.
        kind: ``constant``, ``key``, ``recursion``, ``semantic`` ("" for a dropped entry).
        reason: one line, e.g. ``key "dragon"``, ``meaning 0.87``, or why it was dropped.
        key: the key that matched.
        score: the cosine similarity of a semantic recall.
        tokens: tokens of its content.
    """

    model_config = ConfigDict(extra="ignore")

    uid: int
    title: str = ""
    kind: str = ""
    reason: str = ""
    key: str | None = None
    score: float | None = None
    tokens: int = 0


class ContextRecord(BaseModel):
    """The context a segment was written from (see the module doc).

    Attributes:
        blocks: the blocks in prompt order.
        fired: entries placed; dropped: entries left out (budget, trimming, probability).
        summary_of: id of the segment whose rolling summary was used.
        segments_in_full: ids of the segments sent in full.
        author_note, author_note_depth: the author's note and its depth (segments from the end).
        tokens: tokens of the context; budget: ``context_window - reserve``; context_window: the model's.
        world_tokens, world_budget: tokens of the placed entries, and the world block's budget.
        trimmed: one sentence per trimming step.
        counter: how tokens were counted (``"tokenizer"`` or ``"estimate"``).
        continues: the segment whose request this one continued unchanged, its text then
            following as the model's turn (:mod:`storybench.story.transcript`); ``tokens``
            and ``budget`` then count the whole transcript against the window less the answer.
    """

    model_config = ConfigDict(extra="ignore")

    blocks: list[BlockRecord] = Field(default_factory=list)
    fired: list[FiredRecord] = Field(default_factory=list)
    dropped: list[FiredRecord] = Field(default_factory=list)
    summary_of: str | None = None
    segments_in_full: list[str] = Field(default_factory=list)
    author_note: str = ""
    author_note_depth: int = 0
    tokens: int = 0
    budget: int = 0
    context_window: int = 0
    world_tokens: int = 0
    world_budget: int = 0
    trimmed: list[str] = Field(default_factory=list)
    counter: str = "estimate"
    continues: str | None = None

    @classmethod
    def of(cls, context: Context, counter: str = "estimate") -> ContextRecord:
        """The record of a built context."""
        r = context.report

        def title(entry: object) -> str:
            comment = getattr(entry, "comment", "")
            keys = getattr(entry, "keys", [])
            return comment or (keys[0] if keys else "")

        return cls(
            blocks=[
                BlockRecord(kind=b.kind, source=b.source, tokens=b.tokens, text=b.text if b.kind in _TEXT_KINDS else "")
                for b in context.blocks
            ],
            fired=[
                FiredRecord(
                    uid=f.entry.uid,
                    title=title(f.entry),
                    kind=f.kind,
                    reason=f.reason,
                    key=f.key,
                    score=f.score,
                    tokens=f.tokens,
                )
                for f in r.fired
            ],
            dropped=[
                FiredRecord(uid=s.entry.uid, title=title(s.entry), reason=s.reason)
                for s in (*r.dropped_entries, *r.skipped_entries)
            ],
            summary_of=r.summary_of,
            segments_in_full=list(r.segments_in_full),
            author_note=r.author_note,
            author_note_depth=r.author_note_depth,
            tokens=r.tokens,
            budget=r.budget,
            context_window=r.context_window,
            world_tokens=r.world_tokens,
            world_budget=r.world_budget,
            trimmed=list(r.trimmed),
            counter=counter,
        )
