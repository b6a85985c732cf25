"""What a story's prose gives a comic plan: quoted speech and who says it, page groups.

Pure text functions used by :mod:`storybench.planner.from_story`:

* :func:`quotes` finds quoted speech in ``«…»``, ``“…”``, ``„…“``/``„…”`` and ``"…"``;
* :func:`speaker` attributes a quote to the character named nearest to it in the same
  paragraph (after the quote first: ``«…», said Anna``; then before: ``Anna said: «…»``);
  a name matches as a whole word, by its first word, or by its stem (all but the last
  letter, for names of 4+ letters, so ``Анну`` finds ``Анна``);
* :func:`group_pages` splits the path into at most ``max_pages`` runs of segments.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Quote", "group_pages", "mentions", "quotes", "speaker"]

_QUOTE = re.compile(r"«([^»]+)»|“([^”]+)”|„([^“”]+)[“”]|\"([^\"]+)\"")


@dataclass(frozen=True)
class Quote:
    """One quoted utterance.

    Attributes:
        text: what is said, without the quote marks, whitespace collapsed.
        start, end: character offsets of the quote (marks included) in the segment text.
    """

    text: str
    start: int
    end: int


def quotes(text: str) -> list[Quote]:
    """The quoted speech of ``text`` in reading order (empty quotes skipped)."""
    out = []
    for m in _QUOTE.finditer(text):
        said = " ".join(next(g for g in m.groups() if g is not None).split())
        if said:
            out.append(Quote(said, m.start(), m.end()))
    return out


def _patterns(name: str) -> list[re.Pattern[str]]:
    words = name.split()
    forms = {name}
    if words and len(words[0]) >= 3:
        forms.add(words[0])
    stems = [w[:-1] for w in (words[:1] or []) if len(w) >= 4]
    pats = [re.compile(rf"(?<!\w){re.escape(f)}(?!\w)", re.IGNORECASE) for f in sorted(forms, key=len, reverse=True)]
    pats += [re.compile(rf"(?<!\w){re.escape(s)}\w{{0,3}}(?!\w)", re.IGNORECASE) for s in stems]
    return pats


def mentions(text: str, name: str) -> list[int]:
    """Offsets where ``name`` (or its first word, or its stem) occurs in ``text``."""
    return sorted({m.start() for p in _patterns(name) for m in p.finditer(text)})


def speaker(text: str, quote: Quote, names: Sequence[tuple[str, str]], before: Quote | None = None) -> str | None:
    """The id of who says ``quote``, or None when no character is named near it.

    Args:
        text: the segment text the quote is in.
        quote: the quote.
        names: ``(id, name)`` of every character.
        before: the previous quote of the segment (the search does not reach past it).
    """
    after = _said_after(text, quote)
    ahead = text[max(_paragraph_start(text, quote), before.end if before else 0) : quote.start]
    first = _first_named(after, names)
    return first if first is not None else _last_named(ahead, names)


def _paragraph_start(text: str, quote: Quote) -> int:
    """Offset where the paragraph holding ``quote`` starts."""
    return text.rfind("\n\n", 0, quote.start) + 1


def _said_after(text: str, quote: Quote) -> str:
    """The text after ``quote`` up to the end of its sentence, the next quote or the paragraph's end."""
    para_end = text.find("\n\n", quote.end)
    para_end = len(text) if para_end < 0 else para_end
    following = _QUOTE.search(text, quote.end)
    after = text[quote.end : min(para_end, following.start() if following else para_end)]
    sentence_end = re.search(r"[.!?…](\s|$)", after)
    return after[: sentence_end.end()] if sentence_end else after


def _first_named(after: str, names: Sequence[tuple[str, str]]) -> str | None:
    """The id of the character named first in ``after`` (earlier in ``names`` wins a tie)."""
    best: tuple[int, str] | None = None
    for cid, name in names:
        hits = mentions(after, name)
        if hits and (best is None or hits[0] < best[0]):
            best = (hits[0], cid)
    return best[1] if best else None


def _last_named(ahead: str, names: Sequence[tuple[str, str]]) -> str | None:
    """The id of the character named last in ``ahead`` (earlier in ``names`` wins a tie)."""
    best: tuple[int, str] | None = None
    for cid, name in names:
        hits = mentions(ahead, name)
        if hits and (best is None or len(ahead) - hits[-1] < best[0]):
            best = (len(ahead) - hits[-1], cid)
    return best[1] if best else None


def group_pages(count: int, max_pages: int) -> list[range]:
    """Split ``count`` segments (in path order) into ``min(count, max_pages)`` runs of
    consecutive indices, as even as possible, earlier runs the shorter.

    Raises:
        ValueError: ``count`` or ``max_pages`` is below 1.
    """
    if count < 1 or max_pages < 1:
        raise ValueError(f"need at least one segment and one page, got {count} and {max_pages}")
    pages = min(count, max_pages)
    bounds = [i * count // pages for i in range(pages + 1)]
    return [range(bounds[i], bounds[i + 1]) for i in range(pages)]
