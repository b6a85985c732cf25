"""The lettering as data: items on a page, the sizes they are set at, what was left off.

All of it is frozen pydantic data: an editor can move and restyle items (see
``storybench.compose.editor_json``) and compose the page again from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from storybench.compose.placement import Box

__all__ = [
    "BALLOON_FILL",
    "CAPTION_FILL",
    "INK",
    "DroppedItem",
    "GlyphGap",
    "ItemKind",
    "LetterItem",
    "LetteringSpec",
    "PanelLettering",
    "hex_colour",
]

ItemKind = Literal["balloon", "caption", "sfx"]

#: Fill of speech balloons, RGB.
BALLOON_FILL = (255, 255, 255)
#: Fill of caption boxes, RGB (a pale yellow, ``#fff4c4``).
CAPTION_FILL = (255, 244, 196)
#: Outlines and text, RGB.
INK = (15, 15, 15)


def hex_colour(rgb: tuple[int, int, int]) -> str:
    """``(255, 244, 196)`` → ``"#fff4c4"``."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


class LetterItem(BaseModel):
    """One piece of lettering on a page.

    Attributes:
        kind: ``"balloon"``, ``"caption"`` or ``"sfx"``.
        panel_id: the panel it belongs to.
        text: the text as written in the plan.
        lines: the text wrapped into lines as drawn.
        speaker: character id (balloons only).
        box: ``(x0, y0, x1, y1)`` page pixels: the balloon's ellipse bounds, the caption
            box, or the SFX's rotated bounds.
        text_box: page pixels of the text block inside ``box``.
        tail: page pixel the balloon's tail points to (balloons only).
        font: font family the text is set in (see :mod:`storybench.fonts`): the style's,
            or the fallback that has the glyphs of the text's script.
        size: font size in pixels.
        rotation: degrees counter-clockwise (SFX only).
        fill: ``#rrggbb`` of the text (SFX) or of the box (balloons, captions).
    """

    model_config = ConfigDict(frozen=True)

    kind: ItemKind
    panel_id: str
    text: str
    lines: tuple[str, ...]
    speaker: str | None = None
    box: Box
    text_box: Box
    tail: tuple[int, int] | None = None
    font: str
    size: int
    rotation: float = 0.0
    fill: str = "#ffffff"


class LetteringSpec(BaseModel):
    """Sizes of the lettering, in pixels, for a page of ``reference_width`` pixels.

    They scale with the page width, so a 600-pixel preview letters like the print page.
    The reference is a 6.625-inch page at 300 dpi (1,988 pixels); ``min_size``, the
    minimum readable size (24 px there, about 5.8 pt), is what no lettering goes below:
    text that cannot fit at it is left off and reported (see :class:`PanelLettering`).
    """

    model_config = ConfigDict(frozen=True)

    reference_width: int = 1988
    max_size: int = 46
    min_size: int = 24
    sfx_max_size: int = 170
    line_spacing: float = 1.12
    outline: int = 4

    def scaled(self, page_width: int) -> LetteringSpec:
        """This spec scaled to a page ``page_width`` pixels wide (sizes never below 6 px)."""
        f = page_width / self.reference_width
        return self.model_copy(
            update={
                "reference_width": page_width,
                "max_size": max(7, round(self.max_size * f)),
                "min_size": max(6, round(self.min_size * f)),
                "sfx_max_size": max(10, round(self.sfx_max_size * f)),
                "outline": max(1, round(self.outline * f)),
            }
        )


class DroppedItem(BaseModel):
    """A piece of lettering that fits nowhere in its panel at the minimum size (left off the page).

    Attributes:
        kind: what it is.
        text: its text.
        speaker: character id (balloons only).
    """

    model_config = ConfigDict(frozen=True)

    kind: ItemKind
    text: str
    speaker: str | None = None

    @property
    def words(self) -> int:
        """Words of the text."""
        return len(self.text.split())


def _shown(chars: Sequence[str], limit: int = 8) -> str:
    """``𓀀 (U+13000), 𓁐 (U+13050)``, at most ``limit`` of them, then how many more."""
    shown = ", ".join(f"{ch} (U+{ord(ch):04X})" for ch in chars[:limit])
    return shown + (f" and {len(chars) - limit} more" if len(chars) > limit else "")


class GlyphGap(BaseModel):
    """A piece of lettering that cannot be set right with the fonts installed here.

    Attributes:
        kind: what it is.
        text: its text.
        font: the family it is set in (the one that lacks the fewest characters).
        chars: characters ``font`` has no glyph for (drawn as boxes).
        elsewhere: those of ``chars`` another installed family has: the text mixes
            scripts that no one family here covers (a text is set in one family).
        unshaped: the text is right-to-left or needs shaping, and Pillow has no libraqm.
    """

    model_config = ConfigDict(frozen=True)

    kind: ItemKind
    text: str
    font: str
    chars: tuple[str, ...] = ()
    elsewhere: tuple[str, ...] = ()
    unshaped: bool = False

    def problem(self) -> str:
        """What is wrong, in words."""
        what = {"balloon": "a balloon", "caption": "the caption", "sfx": "the SFX"}[self.kind]
        parts = []
        absent = [ch for ch in self.chars if ch not in self.elsewhere]
        if absent:
            parts.append(f"no installed font has glyphs for {_shown(absent)} in {what}: they print as boxes")
        if self.elsewhere:
            parts.append(
                f"{what} mixes scripts that no one installed font covers: {_shown(self.elsewhere)} "
                f"print as boxes in {self.font}"
            )
        if self.unshaped:
            parts.append(
                f"{what} is right-to-left or needs shaping and Pillow has no libraqm "
                "(its wheels need FriBiDi: apt-get install libfribidi0): it prints unshaped, left to right"
            )
        return "; ".join(parts)


class PanelLettering(BaseModel):
    """The lettering of one panel and what could not be placed or set.

    Attributes:
        panel_id: the panel.
        items: placed items in drawing order (caption, balloons in reading order, SFX).
        balloons: dialogue lines in the plan.
        dropped: items that fit nowhere in the panel at ``min_size`` without covering
            another item or a tail (they are left off the page), in plan order.
        glyph_gaps: placed items whose text lacks glyphs or shaping here.
        min_size: the minimum readable size used, pixels.
    """

    model_config = ConfigDict(frozen=True)

    panel_id: str
    items: tuple[LetterItem, ...]
    balloons: int = 0
    dropped: tuple[DroppedItem, ...] = ()
    glyph_gaps: tuple[GlyphGap, ...] = ()
    min_size: int = 0

    @property
    def balloons_dropped(self) -> int:
        """Dialogue lines left off."""
        return sum(1 for d in self.dropped if d.kind == "balloon")

    @property
    def caption_dropped(self) -> bool:
        """The caption was left off."""
        return any(d.kind == "caption" for d in self.dropped)

    @property
    def sfx_dropped(self) -> bool:
        """The SFX was left off."""
        return any(d.kind == "sfx" for d in self.dropped)

    @property
    def words_dropped(self) -> int:
        """Words of the text left off."""
        return sum(d.words for d in self.dropped)

    @property
    def fits(self) -> bool:
        """Everything was placed."""
        return not self.dropped

    def problem(self) -> str:
        """What does not fit, in words (``""`` when everything fits)."""
        parts = []
        if self.balloons_dropped:
            parts.append(f"{self.balloons_dropped} of {self.balloons} balloons")
        if self.caption_dropped:
            parts.append("the caption")
        if self.sfx_dropped:
            parts.append("the SFX")
        if not parts:
            return ""
        subject = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
        verb = "does" if len(parts) == 1 and not self.balloons_dropped else "do"
        return f"{subject} {verb} not fit at the minimum size {self.min_size} px"
