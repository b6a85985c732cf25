"""The context of one story segment: what the model receives, and a report of why.

:func:`build_context` is a pure function. Given the premise, the segment's own
ancestors (root first, ending with the segment the new text continues), the world,
the author's note and a token counter, it returns text blocks in prompt order and a
:class:`ContextReport`:

``premise`` → ``world_before`` → ``summary`` → ``earlier`` (segments that left the
recent window but are not in any summary yet) → the last ``recent`` segments, with
``AT_DEPTH`` entries and the author's note inserted ``depth`` segments from the end
→ ``world_after``.

**Per-branch memory.** Only the ancestors passed in are read, so a branch never sees
its siblings. Each segment may carry a rolling summary (the story up to and
including it, see :mod:`storybench.world.summary`); the summary used is that of
the newest segment that has left the recent window, and the segments after it
that also left the window are sent in full.

**Budget.** The blocks must fit ``context_window - reserve`` tokens (``reserve``
keeps room for instructions and the answer). The world block has its own budget
(:func:`~storybench.world.activation.activate`). When the whole is over, it is
trimmed in this order, each step until it fits, each step named in
``report.trimmed``:

1. ``earlier`` segments, oldest first;
2. world entries, lowest priority first (the reverse of the budget order);
3. recent segments, oldest first (the newest one always stays);
4. the summary.

If the premise, the newest segment and the author's note alone do not fit,
:class:`ContextBudgetError` says by how much.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from storybench.exceptions import StorybenchError
from storybench.world.activation import Activation, Firing, SemanticIndex, Skip, activate, estimate_tokens
from storybench.world.model import Position, World

__all__ = ["Block", "Context", "ContextBudgetError", "ContextReport", "SegmentText", "build_context"]

BlockKind = Literal[
    "premise", "world_before", "summary", "earlier", "segment", "world_depth", "author_note", "world_after"
]
_BEFORE = {Position.BEFORE, Position.EM_TOP, Position.EM_BOTTOM}
_PLURAL = {"earlier segment": "earlier segments", "world entry": "world entries", "recent segment": "recent segments"}


class ContextBudgetError(StorybenchError, ValueError):
    """The parts of a context that are never trimmed do not fit the context window."""


@dataclass(frozen=True)
class SegmentText:
    """One ancestor segment as the context builder sees it.

    Attributes:
        id: the segment's id.
        text: its text.
        summary: the rolling summary of the story up to and including this segment (optional).
        choice: the choice that led into it ("" for the first segment).
    """

    id: str
    text: str
    summary: str | None = None
    choice: str = ""

    @property
    def scan_text(self) -> str:
        """What world keys are matched against: the choice, then the text."""
        return f"{self.choice}\n{self.text}" if self.choice else self.text


@dataclass(frozen=True)
class Block:
    """One piece of the context, in prompt order.

    Attributes:
        kind: what it is (see the module doc for the order).
        text: the text sent.
        tokens: its tokens by the given counter.
        source: a segment id, or the entry uids (``"3,7"``) for world blocks.
    """

    kind: BlockKind
    text: str
    tokens: int
    source: str = ""


@dataclass
class ContextReport:
    """What went into a context and why.

    Attributes:
        fired: world entries placed, with reasons (insertion order).
        dropped_entries: entries left out by the world budget or by trimming.
        skipped_entries: entries that lost their probability roll.
        warnings: regex keys stopped by their time limit.
        summary_of: id of the segment whose summary was used (``None``: none).
        segments_in_full: ids of the segments sent in full (earlier + recent).
        author_note: the author's note sent ("" when none).
        author_note_depth: segments from the end where it was put.
        tokens: tokens of all blocks.
        budget: ``context_window - reserve``.
        context_window: the model's context window, tokens.
        world_tokens: tokens of the placed entries.
        world_budget: the world block's budget.
        trimmed: one sentence per trimming step taken, in order.
    """

    fired: list[Firing] = field(default_factory=list)
    dropped_entries: list[Skip] = field(default_factory=list)
    skipped_entries: list[Skip] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    summary_of: str | None = None
    segments_in_full: list[str] = field(default_factory=list)
    author_note: str = ""
    author_note_depth: int = 0
    tokens: int = 0
    budget: int = 0
    context_window: int = 0
    world_tokens: int = 0
    world_budget: int = 0
    trimmed: list[str] = field(default_factory=list)


@dataclass
class Context:
    """The blocks of one context and the report."""

    blocks: list[Block]
    report: ContextReport

    def text(self, kinds: Sequence[BlockKind] | None = None) -> str:
        """The blocks' texts joined by blank lines (only ``kinds`` when given)."""
        return "\n\n".join(b.text for b in self.blocks if b.text and (kinds is None or b.kind in kinds))


@dataclass
class _Parts:
    premise: str
    summary: SegmentText | None
    earlier: list[SegmentText]
    recent: list[SegmentText]
    fired: list[Firing]
    note: str
    note_depth: int


class _Counter:
    def __init__(self, count: Callable[[str], int]) -> None:
        self._count = count
        self._cache: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        found = self._cache.get(text)
        if found is None:
            found = self._cache[text] = self._count(text) if text else 0
        return found


def _world_block(kind: BlockKind, firings: Sequence[Firing], count: _Counter) -> Block | None:
    if not firings:
        return None
    text = "\n\n".join(f.entry.content for f in firings)
    return Block(kind, text, count(text), ",".join(str(f.entry.uid) for f in firings))


def _note_block(parts: _Parts, count: _Counter) -> Block:
    top = [f.entry.content for f in parts.fired if f.entry.position == Position.AN_TOP]
    bottom = [f.entry.content for f in parts.fired if f.entry.position == Position.AN_BOTTOM]
    text = "\n\n".join([*top, parts.note, *bottom])
    return Block("author_note", text, count(text))


def _history(parts: _Parts, count: _Counter) -> list[Block]:
    """Recent segments with depth entries and the author's note slotted ``depth`` from the end
    (a depth beyond the history puts them at its start)."""
    n = len(parts.recent)
    inserts: dict[int, list[Block]] = {}
    at_depth: dict[int, list[Firing]] = {}
    for firing in parts.fired:
        if firing.entry.position == Position.AT_DEPTH:
            at_depth.setdefault(min(firing.entry.depth, n), []).append(firing)
    for depth, firings in at_depth.items():
        block = _world_block("world_depth", firings, count)
        if block:
            inserts.setdefault(depth, []).append(block)
    if parts.note:
        inserts.setdefault(min(parts.note_depth, n), []).append(_note_block(parts, count))
    blocks: list[Block] = []
    for index, segment in enumerate(parts.recent):
        blocks.extend(inserts.get(n - index, []))
        blocks.append(Block("segment", segment.text, count(segment.text), segment.id))
    blocks.extend(inserts.get(0, []))
    return blocks


def _render(parts: _Parts, count: _Counter) -> list[Block]:
    blocks = [Block("premise", parts.premise, count(parts.premise))]
    before = _world_block("world_before", [f for f in parts.fired if f.entry.position in _BEFORE], count)
    if before:
        blocks.append(before)
    if parts.summary is not None and parts.summary.summary:
        blocks.append(Block("summary", parts.summary.summary, count(parts.summary.summary), parts.summary.id))
    blocks.extend(Block("earlier", s.text, count(s.text), s.id) for s in parts.earlier)
    blocks.extend(_history(parts, count))
    after = _world_block("world_after", [f for f in parts.fired if f.entry.position == Position.AFTER], count)
    if after:
        blocks.append(after)
    return blocks


def _split(path: Sequence[SegmentText], recent: int) -> tuple[SegmentText | None, list[SegmentText], list[SegmentText]]:
    cut = max(len(path) - max(recent, 1), 0)
    older, window = list(path[:cut]), list(path[cut:])
    for index in range(len(older) - 1, -1, -1):
        if older[index].summary:
            return older[index], older[index + 1 :], window
    return None, older, window


def _trim(parts: _Parts, count: _Counter, budget: int, report: ContextReport) -> list[Block]:
    """Trim ``parts`` in the documented order until the blocks fit ``budget``."""
    blocks = _render(parts, count)

    def over() -> int:
        return sum(b.tokens for b in blocks) - budget

    steps: list[tuple[str, Callable[[], bool]]] = [
        ("earlier segment", lambda: bool(parts.earlier) and parts.earlier.pop(0) is not None),
        ("world entry", lambda: _drop_entry(parts, report)),
        ("recent segment", lambda: len(parts.recent) > 1 and parts.recent.pop(0) is not None),
        ("summary", lambda: parts.summary is not None and _drop_summary(parts)),
    ]
    for what, step in steps:
        taken = 0
        while over() > 0 and step():
            taken += 1
            blocks = _render(parts, count)
        if taken:
            report.trimmed.append(f"{taken} {what if taken == 1 else _PLURAL[what]} left out to fit")
    if over() > 0:
        raise ContextBudgetError(
            f"the premise, the newest segment and the author's note need {sum(b.tokens for b in blocks)} tokens "
            f"but only {budget} fit (context window {report.context_window}); shorten them or use a larger window"
        )
    return blocks


def _drop_entry(parts: _Parts, report: ContextReport) -> bool:
    if not parts.fired:
        return False
    rank = {"constant": 0, "key": 1, "recursion": 1, "semantic": 2}
    worst = max(parts.fired, key=lambda f: (rank[f.kind], -f.entry.order, f.entry.uid))
    parts.fired.remove(worst)
    report.dropped_entries.append(Skip(worst.entry, "trimmed to fit the context window"))
    return True


def _drop_summary(parts: _Parts) -> bool:
    parts.summary = None
    return True


def build_context(
    premise: str,
    path: Sequence[SegmentText],
    world: World | None = None,
    *,
    recent: int = 4,
    author_note: str = "",
    author_note_depth: int = 2,
    count_tokens: Callable[[str], int] = estimate_tokens,
    context_window: int = 2048,
    reserve: int = 512,
    seed: int = 0,
    semantic: SemanticIndex | None = None,
    scan_before: Sequence[str] = (),
    scan_after: Sequence[str] = (),
) -> Context:
    """The context for continuing the last segment of ``path`` (see the module doc).

    Args:
        premise: the story's premise (never trimmed).
        path: the ancestors of the new segment, root first, ending with its parent.
        world: world info (optional).
        recent: segments sent in full at the end (at least 1).
        author_note: a note to the model placed ``author_note_depth`` segments from the end.
        author_note_depth: 0 puts it after the newest segment.
        count_tokens: the backend's token counter (llama.cpp's tokenizer), default chars / 4.
        context_window: the model's context window, tokens.
        reserve: tokens kept free for instructions and the answer.
        seed: seeds the entries' probability rolls.
        semantic: recall entries by meaning too (``storybench[memory]``).
        scan_before: texts scanned for world keys before the path (the premise); they count
            in the scan depth like segments, so a long path leaves them out.
        scan_after: texts scanned after the path (the choice being taken), never sent.

    Returns:
        The :class:`Context` (blocks in prompt order, and the report).

    Raises:
        ContextBudgetError: the parts never trimmed do not fit ``context_window - reserve``.
    """
    count = _Counter(count_tokens)
    budget = max(context_window - reserve, 0)
    summary, earlier, window = _split(path, recent)
    report = ContextReport(
        author_note=author_note, author_note_depth=author_note_depth, budget=budget, context_window=context_window
    )
    activation = Activation()
    if world is not None and world.entries:
        world_budget = world.settings.token_budget
        if world_budget is None:
            world_budget = int(budget * world.settings.budget_percent / 100)
        texts = [*scan_before, *(s.scan_text for s in path), *scan_after]
        activation = activate(world, texts, budget=world_budget, count_tokens=count, seed=seed, semantic=semantic)
    parts = _Parts(premise, summary, earlier, window, list(activation.fired), author_note, author_note_depth)
    report.dropped_entries = list(activation.dropped)
    report.skipped_entries = list(activation.skipped)
    report.warnings = list(activation.warnings)
    report.world_budget = activation.budget
    blocks = _trim(parts, count, budget, report)
    report.fired = parts.fired
    report.world_tokens = sum(f.tokens for f in parts.fired)
    report.summary_of = parts.summary.id if parts.summary is not None else None
    report.segments_in_full = [s.id for s in (*parts.earlier, *parts.recent)]
    report.tokens = sum(b.tokens for b in blocks)
    return Context(blocks, report)
