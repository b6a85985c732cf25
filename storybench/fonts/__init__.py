"""Fonts for lettering, covers and the storyboard: find them, load them, pick one per script.

A base-layer package (it imports nothing of storybench but itself), used by
:mod:`storybench.render` (the storyboard's labels) and :mod:`storybench.compose`
(lettering, covers, the PDF text layer).

* :mod:`~storybench.fonts.families`: family name → font file → loaded font (cached);
  Roboto (``font-roboto``), Noto Sans for the world's scripts and Noto Emoji
  (``manimgx-fonts``), Noto Sans CJK (``manimgx-fonts-cjk``), DejaVu Sans, Pillow's own;
* :mod:`~storybench.fonts.coverage`: which characters a font lacks (its ``.notdef`` box);
* :mod:`~storybench.fonts.scripts`: the family for a text (per-script fallbacks), its
  direction, and whether libraqm is there to shape and order it.
"""

from storybench.fonts.coverage import covers, family_missing, is_ignorable, missing_chars
from storybench.fonts.families import DEFAULT_FAMILY, WEIGHTS, Font, font_path, get_font, installed, split_weight
from storybench.fonts.scripts import FontChoice, choose_family, raqm_available, text_direction

__all__ = [
    "DEFAULT_FAMILY",
    "WEIGHTS",
    "Font",
    "FontChoice",
    "choose_family",
    "covers",
    "family_missing",
    "font_path",
    "get_font",
    "installed",
    "is_ignorable",
    "missing_chars",
    "raqm_available",
    "split_weight",
    "text_direction",
]
