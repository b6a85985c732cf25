"""Lettering fonts: find them, load them (cached) and check that they cover a text.

Fallback chain for a family name:

1. Roboto from the ``font-roboto`` package (``"Roboto-Medium"``, ``"Roboto-Black"``,
   ``"Roboto"`` = Regular...), located through :mod:`importlib.resources`;
2. DejaVu Sans (the Debian path, or matplotlib's copy when matplotlib is installed);
3. Pillow's built-in font (:func:`PIL.ImageFont.load_default` at the requested size).

A family may also be a path to a ``.ttf``/``.otf`` file. Roboto and DejaVu Sans both
cover Latin and Cyrillic (Ukrainian ``і ї є ґ`` included); :func:`covers` tells, with
Pillow only, whether a font has real glyphs for a text (not the missing-glyph box).
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import os
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

__all__ = ["DEFAULT_FAMILY", "Font", "covers", "font_path", "get_font", "missing_chars"]

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
DEFAULT_FAMILY = "Roboto-Medium"

_DEJAVU_DEBIAN = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)
# A code point that is unassigned in Unicode (in the Greek block): every font draws its
# .notdef (missing-glyph) box for it. (Plane-14 code points are default-ignorable and
# would be dropped by the text layout instead.)
_UNASSIGNED = "\u0378"


def _roboto_dir() -> Path | None:
    if importlib.util.find_spec("font_roboto") is None:
        return None
    try:
        root = importlib.resources.files("font_roboto") / "files"
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - broken install
        return None
    path = Path(str(root))
    return path if path.is_dir() else None


def _dejavu() -> Path | None:
    for candidate in _DEJAVU_DEBIAN:
        if os.path.isfile(candidate):
            return Path(candidate)
    if importlib.util.find_spec("matplotlib") is not None:
        spec = importlib.util.find_spec("matplotlib")
        if spec and spec.origin:
            p = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
            if p.is_file():
                return p
    return None


@lru_cache(maxsize=64)
def font_path(family: str) -> Path | None:
    """The font file used for ``family``, or ``None`` when only Pillow's built-in font is left.

    Args:
        family: ``"Roboto-<Weight>"`` (``Roboto`` alone means Regular), ``"DejaVuSans"``,
            or a path to a TrueType/OpenType file.
    """
    if family.lower().endswith((".ttf", ".otf")) and os.path.isfile(family):
        return Path(family)
    roboto = _roboto_dir()
    if roboto is not None:
        name = family if family.startswith("Roboto") else DEFAULT_FAMILY
        if name == "Roboto":
            name = "Roboto-Regular"
        for candidate in (roboto / f"{name}.ttf", roboto / f"{DEFAULT_FAMILY}.ttf", roboto / "Roboto-Regular.ttf"):
            if candidate.is_file():
                return candidate
    return _dejavu()


@lru_cache(maxsize=512)
def get_font(family: str, size: int) -> Font:
    """A loaded font (cached per family and size).

    Args:
        family: see :func:`font_path`.
        size: font size in pixels (em size), at least 1.

    Returns:
        A Pillow font; the built-in one when no font file can be found or read.
    """
    size = max(1, int(size))
    path = font_path(family)
    if path is not None:
        try:
            return ImageFont.truetype(str(path), size)
        except OSError:
            pass
    return ImageFont.load_default(size)


@lru_cache(maxsize=64)
def _notdef_signature(font: Font) -> tuple[tuple[int, int], bytes]:
    mask = font.getmask(_UNASSIGNED)
    return mask.size, bytes(mask)


def missing_chars(font: Font, text: str) -> list[str]:
    """Characters of ``text`` the font draws as its missing-glyph box.

    A character is missing when its glyph mask is identical to the mask of an unassigned
    code point (the ``.notdef`` glyph). Whitespace is never reported.
    """
    notdef = _notdef_signature(font)
    missing: list[str] = []
    for ch in dict.fromkeys(text):
        if ch.isspace():
            continue
        mask = font.getmask(ch)
        if (mask.size, bytes(mask)) == notdef:
            missing.append(ch)
    return missing


def covers(font: Font, text: str) -> bool:
    """Whether ``font`` has a real glyph for every non-space character of ``text``."""
    return not missing_chars(font, text)
