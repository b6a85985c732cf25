"""Degeneration guard: spot a tiny model looping and say where to cut.

Small models (SmolLM2-135M) often fall into loops — the same line over and over, a
handful of words repeated, or a few characters stuttering to the token limit. The
engine checks the growing text after every chunk with :func:`degeneration_cut` and
stops the stream at the first loop, keeping the text before it.
"""

from __future__ import annotations

import re

__all__ = ["degeneration_cut"]

_WORD = re.compile(r"\S+")


_UNIT = re.compile(r"[^\n.!?…]+[.!?…]*")


def _line_loop(text: str, max_repeats: int) -> int | None:
    """Lines and sentences: the second start of one seen ``max_repeats`` times."""
    seen: dict[str, list[int]] = {}
    for m in _UNIT.finditer(text):
        key = re.sub(r"[\W_]+", " ", m.group().casefold()).strip()
        if key:
            starts = seen.setdefault(key, [])
            starts.append(m.start() + len(m.group()) - len(m.group().lstrip()))
            if len(starts) >= max_repeats:
                return starts[1]
    return None


def _word_loop(text: str, window: int, max_distinct: int) -> int | None:
    words = list(_WORD.finditer(text))
    if len(words) < window:
        return None
    for end in range(max(window, len(words) - 32), len(words) + 1):  # called per chunk: recent windows
        chunk = words[end - window : end]
        if len({m.group().casefold().strip(".,;:!?") for m in chunk}) <= max_distinct:
            return chunk[0].start()
    return None


def _char_loop(text: str, repeats: int, max_period: int) -> int | None:
    tail = text[-(max_period * repeats + 1) :]
    offset = len(text) - len(tail)
    for period in range(1, max_period + 1):
        if len(tail) < period * repeats:
            break
        unit = tail[-period:]
        if not unit.strip():
            continue
        if tail[-period * repeats :] == unit * repeats:
            start = len(tail) - period * repeats
            while start - period >= 0 and tail[start - period : start] == unit:
                start -= period
            return offset + start
    return None


def degeneration_cut(
    text: str,
    *,
    max_line_repeats: int = 3,
    word_window: int = 16,
    max_distinct_words: int = 4,
    char_repeats: int = 6,
    max_period: int = 12,
) -> int | None:
    """Where ``text`` starts looping, or ``None`` when it does not.

    Args:
        text: the text generated so far.
        max_line_repeats: a (normalized, non-empty) line or sentence seen this often is
            a loop; the cut is at its second occurrence.
        word_window: size of the sliding window of words checked...
        max_distinct_words: ...for having at most this many distinct words.
        char_repeats: a unit of up to ``max_period`` characters repeated this many
            times at the end is a stutter.

    Returns:
        A character index: ``text[:cut]`` is the part worth keeping.
    """
    cuts = [
        c
        for c in (
            _line_loop(text, max_line_repeats),
            _word_loop(text, word_window, max_distinct_words),
            _char_loop(text, char_repeats, max_period),
        )
        if c is not None
    ]
    return min(cuts) if cuts else None
