"""Text fitting: word wrap, measuring, and the largest size at which a text fits a box.

Wrapping is greedy. Lines break at spaces; Chinese and Japanese text (no spaces)
also breaks between characters, never before closing punctuation or small kana nor
after an opening bracket (the basic *kinsoku* rules of JIS X 4051). A word longer
than a line is broken between characters with a hyphen, except where the caller
forbids it (``breaks=False``: an SFX is set smaller instead, never split).
"""

from __future__ import annotations

import itertools
import math
import unicodedata
from collections.abc import Iterator, Sequence
from functools import lru_cache

from storybench.fonts import Font, get_font

__all__ = [
    "KERNING_SLACK",
    "SIZE_STEP",
    "block",
    "fit_text",
    "line_height",
    "sizes_from",
    "text_width",
    "wrap_text",
]

#: Measured width x this, + 1 px: kerning and shaping across word boundaries (words are measured one by one).
KERNING_SLACK = 1.015
#: Each smaller size tried is at most this fraction of the one before (about 12 % smaller).
SIZE_STEP = 0.88

#: Unicode-name prefixes of scripts written without spaces, which break between characters.
_NO_SPACE_SCRIPTS = frozenset({"CJK", "HIRAGANA", "KATAKANA", "IDEOGRAPHIC", "FULLWIDTH", "HALFWIDTH", "KANGXI"})
#: Characters that never start a line (closing punctuation, small kana, prolonged sound mark).
_NO_START = frozenset(
    "、。，．・：；？！!?)]}）］｝〕〉》」』】〙〗〟’”｠»ーぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶ々〻…‥〜"
)
#: Characters that never end a line (opening brackets).
_NO_END = frozenset("([{（［｛〔〈《「『【〘〖〝‘“｟«")

_WIDTHS: dict[tuple[int, str], float] = {}
_WIDTH_FONTS: dict[int, Font] = {}  # keeps each measured font alive, so its id() is not reused
_WIDTHS_MAX = 200_000


def line_height(font: Font, spacing: float) -> int:
    """Distance between baselines, pixels: (ascent + descent) x ``spacing``."""
    ascent, descent = font.getmetrics()  # type: ignore[union-attr]
    return max(1, round((ascent + descent) * spacing))


def text_width(font: Font, text: str) -> float:
    """``font.getlength(text)``, cached per font and text (shaping is slow)."""
    key = (id(font), text)
    width = _WIDTHS.get(key)
    if width is None:
        if len(_WIDTHS) >= _WIDTHS_MAX:
            _WIDTHS.clear()
            _WIDTH_FONTS.clear()
        _WIDTH_FONTS[id(font)] = font
        width = _WIDTHS[key] = font.getlength(text)
    return width


def _line_width(font: Font, line: str) -> float:
    """Width of a wrapped line: its words measured one by one plus the spaces between them."""
    words = line.split()
    return sum(text_width(font, w) for w in words) + text_width(font, " ") * max(0, len(words) - 1)


def _break_word(word: str, font: Font, max_width: float) -> tuple[str, str]:
    """Split ``word`` into the longest head that fits with a hyphen, and the rest (binary search)."""
    lo, hi = 1, len(word) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if text_width(font, word[:mid] + "-") <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return word[:lo] + "-", word[lo:]


def _spaceless(ch: str) -> bool:
    return unicodedata.name(ch, "").split(" ", 1)[0] in _NO_SPACE_SCRIPTS


@lru_cache(maxsize=65536)
def _units(word: str) -> tuple[str, ...]:
    """``word`` cut where a line may break inside it: between characters of Chinese or Japanese text."""
    units = [word[0]]
    for prev, ch in itertools.pairwise(word):
        if (_spaceless(prev) or _spaceless(ch)) and ch not in _NO_START and prev not in _NO_END:
            units.append(ch)
        else:
            units[-1] += ch
    return tuple(units)


def _pieces(paragraph: str, breaks: bool) -> Iterator[tuple[str, str]]:
    """The paragraph's unbreakable pieces, each with what joins it to the one before (``" "`` or ``""``)."""
    for word in paragraph.split():
        for j, unit in enumerate(_units(word) if breaks else (word,)):
            yield unit, (" " if j == 0 else "")


def _break_long(unit: str, font: Font, max_width: float) -> tuple[list[str], str]:
    """Hyphenated heads of a piece longer than a line, and the rest that fits."""
    heads: list[str] = []
    while text_width(font, unit) > max_width and len(unit) > 1:
        head, unit = _break_word(unit, font, max_width)
        heads.append(head)
    return heads, unit


def _wrap_paragraph(paragraph: str, font: Font, max_width: float, breaks: bool) -> list[str]:
    space = text_width(font, " ")
    lines: list[str] = []
    current, used = "", 0.0
    for unit, sep in _pieces(paragraph, breaks):
        step = (space if sep else 0.0) + text_width(font, unit)
        if current and used + step <= max_width:
            current, used = current + sep + unit, used + step
            continue
        if current:
            lines.append(current)
        if breaks:
            heads, unit = _break_long(unit, font, max_width)
            lines += heads
        current, used = unit, text_width(font, unit)
    lines.append(current)
    return lines


def wrap_text(text: str, font: Font, max_width: float, *, breaks: bool = True) -> list[str]:
    """Greedy word wrap of ``text`` to lines at most ``max_width`` pixels wide.

    Args:
        text: the text; its newlines are kept.
        font: the font it is set in.
        max_width: line width, pixels.
        breaks: break a word longer than a line between characters, with a hyphen;
            ``False`` leaves it whole on its own line (wider than ``max_width``).

    Returns:
        The lines (``[""]`` for an empty text). Chinese and Japanese break between
        characters without a hyphen (see the module doc).
    """
    lines = [line for paragraph in text.split("\n") for line in _wrap_paragraph(paragraph, font, max_width, breaks)]
    return [line for line in lines if line] or [""]


def _measure(lines: Sequence[str], font: Font, spacing: float) -> tuple[int, int]:
    width = max((_line_width(font, line) for line in lines), default=0)
    return math.ceil(width * KERNING_SLACK) + 1, line_height(font, spacing) * len(lines)


def block(
    text: str, family: str, size: int, max_width: float, spacing: float, *, breaks: bool = True
) -> tuple[list[str], int, int]:
    """``text`` wrapped at one size: ``(lines, width, height)``, pixels."""
    font = get_font(family, size)
    lines = wrap_text(text, font, max_width, breaks=breaks)
    w, h = _measure(lines, font, spacing)
    return lines, w, h


def fit_text(
    text: str,
    family: str,
    max_width: float,
    max_height: float,
    max_size: int,
    min_size: int,
    spacing: float = 1.12,
    *,
    breaks: bool = True,
) -> tuple[int, list[str], tuple[int, int]]:
    """The largest font size in ``min_size..max_size`` at which ``text`` wraps into
    ``max_width`` x ``max_height`` pixels.

    Args:
        text: the text.
        family: its font family.
        max_width, max_height: the box, pixels.
        max_size, min_size: font sizes to choose from, pixels.
        spacing: line spacing, times the font's line height.
        breaks: see :func:`wrap_text`.

    Returns:
        ``(size, lines, (width, height))``; at ``min_size`` when nothing larger fits
        (the caller then grows the box or leaves the text off: text is never cut).
    """
    best = None
    lo, hi = min_size, max(min_size, max_size)
    while lo <= hi:  # binary search: the fitted height shrinks as the size does
        mid = (lo + hi) // 2
        lines, w, h = block(text, family, mid, max_width, spacing, breaks=breaks)
        if w <= max_width and h <= max_height:
            best = (mid, lines, (w, h))
            lo = mid + 1
        else:
            hi = mid - 1
    if best is None:
        lines, w, h = block(text, family, min_size, max_width, spacing, breaks=breaks)
        best = (min_size, lines, (w, h))
    return best


def sizes_from(best: int, min_size: int) -> list[int]:
    """Font sizes to try, from ``best`` down to ``min_size`` in steps of about 12 % (:data:`SIZE_STEP`)."""
    out, size = [], max(best, min_size)
    while size > min_size:
        out.append(size)
        size = min(size - 1, int(size * SIZE_STEP))
    return [*out, min_size]
