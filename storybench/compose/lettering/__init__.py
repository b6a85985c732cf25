"""Lettering: speech balloons, caption boxes and SFX, laid out as data, then drawn.

Two steps, so an editor can move and restyle lettering (see ``editor_json``):

1. :func:`layout_panel` / :func:`letter_panel` lay out one panel's lettering as
   :class:`LetterItem` s — kind, text, wrapped lines, box and tail point in page
   pixels, font and fitted size;
2. :func:`draw_items` draws items onto a page.

Modules:
    * :mod:`.items`: the data (items, sizes, what was dropped, glyph gaps);
    * :mod:`.fit`: word wrap and size fitting;
    * :mod:`.placers`: what is particular to a caption, a balloon and an SFX;
    * :mod:`.layout`: the one placing loop that drives them;
    * :mod:`.draw`: drawing items onto a page.

Rules:
    * one speech balloon (an ellipse) per dialogue line, in reading order, near the
      speaker and stacked downward; its tail points toward the speaker's head as
      staged by :func:`storybench.plan.staging.stage_cast` (a heuristic for images
      from real backends); a speaker who is not in the shot gets a tail toward the
      nearest panel edge below the balloon;
    * the narrative goes in a caption box at the top left;
    * the SFX is lettered large, outlined and rotated a few degrees, low in the panel;
      it is set smaller rather than split inside a word;
    * text is word-wrapped and its size fitted (largest size that fits, never below
      ``min_size``) so it never overflows its balloon or box; an ellipse holds its text
      rectangle when both semi-axes are at least √2 times the rectangle's half sides;
    * every text is set in a family that has its glyphs (the style's, else its script's
      Noto family, see :func:`storybench.fonts.choose_family`); right-to-left text is set
      right to left; what no installed font covers is reported, never silently boxed;
    * no item covers another item or a balloon's tail, and every item stays inside its
      panel rectangle; an item that fits nowhere at ``min_size`` is left off the page
      and reported (:func:`layout_panel`, :class:`PanelLettering`).
"""

from storybench.compose.lettering.draw import draw_items
from storybench.compose.lettering.fit import fit_text, wrap_text
from storybench.compose.lettering.items import (
    BALLOON_FILL,
    CAPTION_FILL,
    INK,
    DroppedItem,
    GlyphGap,
    LetteringSpec,
    LetterItem,
    PanelLettering,
)
from storybench.compose.lettering.layout import layout_panel, letter_panel
from storybench.compose.lettering.placers import ELLIPSE_K

__all__ = [
    "BALLOON_FILL",
    "CAPTION_FILL",
    "ELLIPSE_K",
    "INK",
    "DroppedItem",
    "GlyphGap",
    "LetterItem",
    "LetteringSpec",
    "PanelLettering",
    "draw_items",
    "fit_text",
    "layout_panel",
    "letter_panel",
    "wrap_text",
]
