"""Glyph coverage: which characters of a text a font draws as its missing-glyph box.

Checked with Pillow only: a character is missing when its glyph mask equals the mask
of an unassigned code point (the font's ``.notdef`` glyph). Characters that are never
drawn on their own (white space, control and format characters such as the bidi
controls and the zero-width joiner, variation selectors) are never reported.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from storybench.fonts.families import Font, get_font

__all__ = ["covers", "family_missing", "is_ignorable", "missing_chars"]

# A code point that is unassigned in Unicode (in the Greek block): every font draws its
# .notdef (missing-glyph) box for it. (Plane-14 code points are default-ignorable and
# would be dropped by the text layout instead.)
_UNASSIGNED = "\u0378"
#: Size at which a family's coverage is checked, pixels (coverage does not depend on size).
_PROBE_SIZE = 32


def is_ignorable(ch: str) -> bool:
    """Whether ``ch`` is never drawn as a glyph of its own (space, control, format, variation selector)."""
    if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf"):
        return True
    cp = ord(ch)
    return 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF or 0x180B <= cp <= 0x180F


@lru_cache(maxsize=64)
def _notdef_signature(font: Font) -> tuple[tuple[int, int], bytes]:
    mask = font.getmask(_UNASSIGNED)
    return mask.size, bytes(mask)


def _is_notdef(font: Font, ch: str) -> bool:
    mask = font.getmask(ch)
    return (mask.size, bytes(mask)) == _notdef_signature(font)


def missing_chars(font: Font, text: str) -> list[str]:
    """Characters of ``text`` the font draws as its missing-glyph box, in order of first use.

    Args:
        font: a loaded font.
        text: any text.

    Returns:
        The missing characters, each once; never an ignorable one (see :func:`is_ignorable`).
    """
    return [ch for ch in dict.fromkeys(text) if not is_ignorable(ch) and _is_notdef(font, ch)]


@lru_cache(maxsize=65536)
def _family_lacks(family: str, ch: str) -> bool:
    return _is_notdef(get_font(family, _PROBE_SIZE), ch)


def family_missing(family: str, text: str) -> list[str]:
    """Like :func:`missing_chars` for a family name, cached per family and character."""
    return [ch for ch in dict.fromkeys(text) if not is_ignorable(ch) and _family_lacks(family, ch)]


def covers(font: Font, text: str) -> bool:
    """Whether ``font`` has a real glyph for every drawn character of ``text``."""
    return not missing_chars(font, text)
