"""The font for a text: per-script fallbacks, writing direction and shaping.

:func:`choose_family` keeps the style's family when it has every glyph of the text;
otherwise it tries, at the same weight, the Noto family of each script the family
lacks (Unicode character names give the script: ``ARABIC LETTER ALEF`` → Noto Sans
Arabic; Han, kana and Hangul → Noto Sans CJK in the region of the plan's language),
then Noto Sans, DejaVu Sans, Noto Sans Symbols and Noto Emoji. The first that covers
the whole text wins; when none does, the one missing the fewest characters is used
and the characters it lacks are returned, for a lettering warning (never a silent
missing-glyph box).

Right-to-left text (the first strong character is Hebrew or Arabic, Unicode bidi
classes R/AL, UAX #9 rule P2) is laid out by libraqm (FriBiDi and HarfBuzz): Pillow
then sets it right to left and shapes Arabic joining forms. Without libraqm such text
would come out unshaped and left to right, so the choice says so (``unshaped``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from PIL import features

from storybench.fonts.coverage import family_missing, is_ignorable
from storybench.fonts.families import installed, split_weight

__all__ = ["FontChoice", "choose_family", "raqm_available", "text_direction"]

Direction = Literal["ltr", "rtl"]

#: Unicode-name prefixes of the scripts in Noto Sans CJK.
_CJK_WORDS = frozenset(
    {"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "IDEOGRAPHIC", "FULLWIDTH", "HALFWIDTH", "BOPOMOFO", "KANGXI"}
)
#: Scripts whose letters change shape or order in context (need libraqm's shaping).
_COMPLEX = frozenset(
    {"ARABIC", "SYRIAC", "DEVANAGARI", "BENGALI", "GURMUKHI", "GUJARATI", "ORIYA", "TAMIL", "TELUGU", "KANNADA"}
    | {"MALAYALAM", "SINHALA", "MYANMAR", "KHMER"}
)
#: Last resorts, tried after the scripts' own families (at the text's weight where they have one).
_LAST_RESORTS = ("NotoSans", "DejaVuSans", "NotoSansSymbols", "NotoEmoji")


@dataclass(frozen=True)
class FontChoice:
    """The family a text is lettered in.

    Attributes:
        family: the family name (see :mod:`storybench.fonts.families`).
        missing: characters of the text that ``family`` lacks (empty when it covers the text).
        direction: ``"rtl"`` when the text's first strong character is right-to-left.
        unshaped: the text needs libraqm (right-to-left or a shaping script) and
            Pillow has no libraqm: it would be set unshaped, left to right.
        elsewhere: those of ``missing`` that another installed family has (the text
            mixes scripts that no one family here covers; a text is set in one family).
    """

    family: str
    missing: tuple[str, ...] = ()
    direction: Direction = "ltr"
    unshaped: bool = False
    elsewhere: tuple[str, ...] = ()


def raqm_available() -> bool:
    """Whether Pillow lays text out with libraqm (bidi and shaping).

    Pillow's wheels carry libraqm and HarfBuzz and load the system's FriBiDi at run time
    (``apt-get install libfribidi0``); a Pillow built from source needs ``libraqm0``.
    """
    return bool(features.check("raqm"))


def text_direction(text: str) -> Direction:
    """The paragraph direction of ``text``: that of its first strong character (UAX #9, P2); ``"ltr"`` if none."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return "ltr"


def _script_word(ch: str) -> str:
    return unicodedata.name(ch, "").split(" ", 1)[0]


def _cjk_region(text: str, language: str) -> str:
    lang = language.lower()
    if lang.startswith("ko") or any(_script_word(ch) == "HANGUL" for ch in text):
        return "KR"
    if lang.startswith("zh"):
        if lang.endswith(("-hk", "-mo")):
            return "HK"
        return "TC" if lang.endswith(("-tw", "-hant")) or "-hant" in lang else "SC"
    return "JP"


def _script_family(ch: str, text: str, language: str) -> str | None:
    """The Noto family for the script of ``ch`` (``None`` when there is no script-specific one)."""
    word = _script_word(ch)
    if word in _CJK_WORDS:
        return f"NotoSansCJK-{_cjk_region(text, language)}"
    if unicodedata.category(ch) == "So":
        return "NotoEmoji"
    if word.isalpha():
        family = f"NotoSans{word.title()}"
        if installed(family):
            return family
    return None


def _weighted(family: str, weight: str | None) -> str:
    return f"{family}-{weight}" if weight and family.startswith("Noto") else family


def _candidates(preferred: str, missing: list[str], text: str, language: str) -> list[str]:
    weight = split_weight(preferred)[1]
    out: list[str] = []
    for ch in missing:
        family = _script_family(ch, text, language)
        if family is not None:
            out.append(_weighted(family, weight))
    out += [_weighted(f, weight) for f in _LAST_RESORTS]
    return [f for f in dict.fromkeys(out) if f != preferred and installed(f)]


def _needs_raqm(text: str) -> bool:
    return any(
        unicodedata.bidirectional(ch) in ("R", "AL") or _script_word(ch) in _COMPLEX
        for ch in text
        if not is_ignorable(ch)
    )


@lru_cache(maxsize=4096)
def choose_family(preferred: str, text: str, language: str = "") -> FontChoice:
    """The family to letter ``text`` in: ``preferred`` if it covers the text, else a fallback.

    Args:
        preferred: the style's family (``"Roboto-Medium"``).
        text: the text to letter.
        language: BCP-47 code of the plan; picks the regional face of Noto Sans CJK.

    Returns:
        The choice, with the characters its family lacks.
    """
    direction = text_direction(text)
    unshaped = _needs_raqm(text) and not raqm_available()
    missing = family_missing(preferred, text)
    if not missing:
        return FontChoice(preferred, (), direction, unshaped)
    best, best_missing = preferred, missing
    absent = set(missing)  # characters no family tried has
    for family in _candidates(preferred, missing, text, language):
        lacking = family_missing(family, text)
        if not lacking:
            return FontChoice(family, (), direction, unshaped)
        absent &= set(lacking)
        if len(lacking) < len(best_missing):
            best, best_missing = family, lacking
    elsewhere = tuple(ch for ch in best_missing if ch not in absent)
    return FontChoice(best, tuple(best_missing), direction, unshaped, elsewhere)
