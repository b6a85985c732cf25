"""Placers: what is particular to a caption, a speech balloon and an SFX.

Each placer answers the questions of the one placing loop
(:func:`storybench.compose.lettering.layout.place`): the box its text is first fitted
into, the text widths to try (narrowest share of the panel first), the outer size
of the item around a text block, the largest outer size allowed, where in the panel
it may go, and the :class:`LetterItem` it becomes. All sizes are page pixels; every
ratio is a named constant below.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from storybench.compose.lettering.items import CAPTION_FILL, ItemKind, LetteringSpec, LetterItem, hex_colour
from storybench.compose.placement import Box, bbox, find_spot, overlaps, tail_polygon
from storybench.fonts import FontChoice, choose_family
from storybench.plan.layouts import Rect
from storybench.plan.models import ComicPlan, PanelPlan
from storybench.plan.staging import Figure, panel_cast, stage_cast
from storybench.plan.styles import Style

__all__ = [
    "ELLIPSE_K",
    "BalloonPlacer",
    "CaptionPlacer",
    "Frame",
    "Placer",
    "SfxPlacer",
    "Spot",
    "panel_placers",
]

#: Ellipse axes / text rectangle sides; ≥ √2, so the text rectangle fits inside the ellipse.
ELLIPSE_K = 1.42

#: Margin kept inside a panel, fraction of its shorter side (at least ``MIN_PAD`` px).
PAD_RATIO, MIN_PAD = 0.035, 4
#: Clearance between items, fraction of the panel's shorter side (at least ``MIN_GAP`` px).
GAP_RATIO, MIN_GAP = 0.02, 3
#: Narrowest text block tried, pixels.
MIN_TEXT_WIDTH = 20

#: Caption: inner margin, fraction of the largest lettering size (at least ``MIN_CAPTION_INSET`` px).
CAPTION_INSET_RATIO, MIN_CAPTION_INSET = 0.45, 6
#: Caption: widths tried, fractions of the panel width.
CAPTION_SHARES = (0.66, 1.0)
#: Caption: height its text is first fitted into, fraction of the panel height.
CAPTION_FIT_HEIGHT = 0.28
#: Caption: largest size, fraction of the largest lettering size.
CAPTION_SIZE_RATIO = 0.9
#: Caption: tallest box, fraction of the panel's inner height.
CAPTION_MAX_HEIGHT = 0.7

#: Balloon: widths tried, fractions of the panel width.
BALLOON_SHARES = (0.62, 0.8, 1.0)
#: Balloon: height its text is first fitted into, fraction of the panel height, alone in the
#: panel / shared by all of the panel's balloons.
BALLOON_HEIGHT_ALONE, BALLOON_HEIGHT_SHARED = 0.42, 0.62
#: Balloon: shortest fitted text height, pixels.
MIN_BALLOON_TEXT_HEIGHT = 10
#: Balloon of a speaker off-shot: centre x tried first, fraction of the panel width from the
#: left, then that plus the step for every other line (left, right, left...).
BALLOON_X_LEFT, BALLOON_X_STEP = 0.3, 0.4
#: Tail length, fraction of the panel's shorter side (at least two gaps).
TAIL_RATIO = 0.08
#: Tail toward a head below: fraction of the way across to the head, reach in tail lengths,
#: and the most of the drop to the head's top it may cover.
TAIL_AIM, TAIL_REACH, TAIL_DROP = 0.6, 1.6, 0.7
#: Other tails: sideways offset (fraction of the balloon width) and shorter reach (tail lengths).
TAIL_SIDE, TAIL_SHORT = 0.15, 0.5
#: Sideways and upward tails: reach and drop, in tail lengths.
TAIL_OUT, TAIL_LOWER = 0.6, 0.3
#: Tail tips stay this far inside the panel, pixels.
TAIL_INSET = 2

#: SFX: text box, fractions of the panel width and height.
SFX_WIDTH, SFX_HEIGHT = 0.7, 0.24
#: SFX: tilt, degrees (counter-clockwise for panels with an odd-length id, clockwise otherwise).
SFX_TILT = 8.0
#: SFX line spacing.
SFX_SPACING = 1.0


@dataclass(frozen=True)
class Frame:
    """A panel being lettered: its id, rectangle (page pixels), lettering sizes, margin and clearance."""

    panel_id: str
    rect: Rect
    spec: LetteringSpec
    pad: int
    gap: int

    @classmethod
    def of(cls, panel_id: str, rect: Rect, spec: LetteringSpec) -> Frame:
        """The frame of panel ``panel_id`` in ``rect``: margin and clearance scale with its shorter side."""
        unit = min(rect.width, rect.height)
        pad, gap = max(MIN_PAD, round(unit * PAD_RATIO)), max(MIN_GAP, round(unit * GAP_RATIO))
        return cls(panel_id, rect, spec, pad, gap)

    @property
    def unit(self) -> int:
        """The panel's shorter side, pixels."""
        return min(self.rect.width, self.rect.height)

    @property
    def inner_w(self) -> int:
        """Width inside the margin, pixels."""
        return self.rect.width - 2 * self.pad

    @property
    def inner_h(self) -> int:
        """Height inside the margin, pixels."""
        return self.rect.height - 2 * self.pad


@dataclass(frozen=True)
class Spot:
    """Where an item goes: its box, the boxes it brings along (a tail's), the tail's tip."""

    box: Box
    extra: Sequence[Box] = ()
    tail: tuple[int, int] | None = None


@dataclass(frozen=True)
class Placer:
    """What the placing loop asks of every kind of item (the base: a caption-like box).

    Attributes:
        frame: the panel.
        kind: the item's kind.
        text: its text.
        font: the family chosen for the text (style's or a script's fallback).
        spacing: line spacing.
        breaks: a word longer than a line may be broken with a hyphen.
        speaker: character id (balloons).
    """

    frame: Frame
    kind: ItemKind
    text: str
    font: FontChoice
    spacing: float
    breaks: bool = True
    speaker: str | None = None

    def fit_area(self) -> tuple[float, float, int]:
        """``(width, height, max size)`` the text is first fitted into."""
        raise NotImplementedError

    def text_widths(self) -> Sequence[float]:
        """Widths of text block to try, narrowest first, pixels."""
        raise NotImplementedError

    def outer(self, width: int, height: int) -> tuple[float, float]:
        """The item's size around a ``width`` x ``height`` text block, pixels."""
        raise NotImplementedError

    def max_outer(self) -> tuple[float, float]:
        """The largest item allowed in the panel, pixels."""
        return self.frame.inner_w, self.frame.inner_h

    def find(self, width: float, height: float, blocked: Sequence[Box]) -> Spot | None:
        """A free spot for a ``width`` x ``height`` item, or ``None``."""
        raise NotImplementedError

    def item(self, spot: Spot, size: int, lines: Sequence[str], width: int, height: int) -> LetterItem:
        """The placed item: text block ``width`` x ``height`` at ``size`` in ``spot``."""
        raise NotImplementedError


def _centred(box: Box, width: int, height: int) -> Box:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x0, y0 = round(cx - width / 2), round(cy - height / 2)
    return (x0, y0, x0 + width, y0 + height)


@dataclass(frozen=True)
class CaptionPlacer(Placer):
    """The narrative: a box at the top left, as narrow as its text allows."""

    @property
    def inset(self) -> int:
        """Margin between the box and its text, pixels."""
        return max(MIN_CAPTION_INSET, round(self.frame.spec.max_size * CAPTION_INSET_RATIO))

    def fit_area(self) -> tuple[float, float, int]:
        """See :meth:`Placer.fit_area`."""
        size = round(self.frame.spec.max_size * CAPTION_SIZE_RATIO)
        return self.text_widths()[0], self.frame.rect.height * CAPTION_FIT_HEIGHT, size

    def text_widths(self) -> Sequence[float]:
        """See :meth:`Placer.text_widths`."""
        rect, inner_w = self.frame.rect, self.frame.inner_w
        return [max(MIN_TEXT_WIDTH, min(rect.width * share, inner_w) - 2 * self.inset) for share in CAPTION_SHARES]

    def outer(self, width: int, height: int) -> tuple[float, float]:
        """See :meth:`Placer.outer`."""
        return width + 2 * self.inset, height + 2 * self.inset

    def max_outer(self) -> tuple[float, float]:
        """See :meth:`Placer.max_outer`."""
        return self.frame.inner_w, self.frame.inner_h * CAPTION_MAX_HEIGHT

    def find(self, width: float, height: float, blocked: Sequence[Box]) -> Spot | None:
        """See :meth:`Placer.find`."""
        f = self.frame
        spot = find_spot(width, height, f.rect, f.pad, f.gap, blocked, prefer_x=f.rect.x0)
        return Spot(spot[0]) if spot else None

    def item(self, spot: Spot, size: int, lines: Sequence[str], width: int, height: int) -> LetterItem:
        """See :meth:`Placer.item`."""
        x0, y0 = spot.box[0] + self.inset, spot.box[1] + self.inset
        return LetterItem(
            kind="caption",
            panel_id=self.frame.panel_id,
            text=self.text,
            lines=tuple(lines),
            box=spot.box,
            text_box=(x0, y0, x0 + width, y0 + height),
            font=self.font.family,
            size=size,
            fill=hex_colour(CAPTION_FILL),
        )


def tail_tips(box: Box, rect: Rect, head: tuple[float, float] | None, length: float) -> list[tuple[int, int]]:
    """Candidate tail tips of a balloon ``box``, best first, inside ``rect`` (pixels).

    Toward the speaker's head (``(centre x, top y)``) when it is below the balloon, else
    straight down under it; then down to either side, short, left, right and up.
    """
    ecx, bottom = (box[0] + box[2]) / 2, box[3]
    tips: list[tuple[float, float]] = []
    if head is not None and head[1] > bottom:
        hx, head_top = head
        tips.append((ecx + (hx - ecx) * TAIL_AIM, bottom + min(length * TAIL_REACH, (head_top - bottom) * TAIL_DROP)))
    elif head is not None:
        tips.append((head[0], bottom + length * TAIL_OUT))
    bw = box[2] - box[0]
    ecy = (box[1] + box[3]) / 2
    tips += [
        (ecx + bw * TAIL_SIDE, bottom + length),
        (ecx - bw * TAIL_SIDE, bottom + length),
        (ecx, bottom + length * TAIL_SHORT),
        (box[0] - length * TAIL_OUT, ecy + length * TAIL_LOWER),
        (box[2] + length * TAIL_OUT, ecy + length * TAIL_LOWER),
        (ecx, box[1] - length * TAIL_OUT),
    ]
    lo_x, hi_x = rect.x0 + TAIL_INSET, rect.x1 - TAIL_INSET
    lo_y, hi_y = rect.y0 + TAIL_INSET, rect.y1 - TAIL_INSET
    return [(round(min(max(tx, lo_x), hi_x)), round(min(max(ty, lo_y), hi_y))) for tx, ty in tips]


@dataclass(frozen=True)
class BalloonPlacer(Placer):
    """A dialogue line: an ellipse near its speaker, with a tail that covers nothing.

    Attributes:
        index: the line's place among the panel's lines.
        count: lines in the panel.
        head: the speaker's head on the page, ``(centre x, top y)`` pixels, when staged.
    """

    index: int = 0
    count: int = 1
    head: tuple[float, float] | None = None

    def fit_area(self) -> tuple[float, float, int]:
        """See :meth:`Placer.fit_area`."""
        rect = self.frame.rect
        share = BALLOON_HEIGHT_ALONE if self.count == 1 else BALLOON_HEIGHT_SHARED / self.count
        height = max(MIN_BALLOON_TEXT_HEIGHT, rect.height * share / ELLIPSE_K)
        width = max(MIN_TEXT_WIDTH, min(rect.width * BALLOON_SHARES[0], self.frame.inner_w) / ELLIPSE_K)
        return width, height, self.frame.spec.max_size

    def text_widths(self) -> Sequence[float]:
        """See :meth:`Placer.text_widths`."""
        f = self.frame
        return [
            max(MIN_TEXT_WIDTH, min(f.rect.width * share, f.inner_w) / ELLIPSE_K - 2 * f.gap)
            for share in BALLOON_SHARES
        ]

    def outer(self, width: int, height: int) -> tuple[float, float]:
        """See :meth:`Placer.outer`."""
        return width * ELLIPSE_K + 2 * self.frame.gap, height * ELLIPSE_K + 2 * self.frame.gap

    @property
    def prefer_x(self) -> float:
        """Centre x tried first: above the speaker, else alternating left and right."""
        rect = self.frame.rect
        if self.head is not None:
            return self.head[0]
        return rect.x0 + rect.width * (BALLOON_X_LEFT + BALLOON_X_STEP * (self.index % 2))

    def find(self, width: float, height: float, blocked: Sequence[Box]) -> Spot | None:
        """See :meth:`Placer.find`: the balloon's box and a tail whose box is clear too."""
        f = self.frame
        length = max(f.gap * 2, f.unit * TAIL_RATIO)
        tips: list[tuple[int, int]] = []

        def accept(box: Box) -> list[Box] | None:
            for tip in tail_tips(box, f.rect, self.head, length):
                tail_box = bbox(tail_polygon(box, tip))
                if not any(overlaps(tail_box, b) for b in blocked):
                    tips[:] = [tip]
                    return [tail_box]
            return None

        spot = find_spot(width, height, f.rect, f.pad, f.gap, blocked, prefer_x=self.prefer_x, accept=accept)
        return Spot(spot[0], spot[1], tips[0]) if spot else None

    def item(self, spot: Spot, size: int, lines: Sequence[str], width: int, height: int) -> LetterItem:
        """See :meth:`Placer.item`."""
        return LetterItem(
            kind="balloon",
            panel_id=self.frame.panel_id,
            text=self.text,
            lines=tuple(lines),
            speaker=self.speaker,
            box=spot.box,
            text_box=_centred(spot.box, width, height),
            tail=spot.tail,
            font=self.font.family,
            size=size,
        )


@dataclass(frozen=True)
class SfxPlacer(Placer):
    """The sound effect: large, outlined, tilted, low and to the right; never split inside a word.

    Attributes:
        rotation: tilt, degrees counter-clockwise.
        fill: ``#rrggbb`` of the letters.
    """

    rotation: float = 0.0
    fill: str = "#ffffff"
    breaks: bool = False

    def fit_area(self) -> tuple[float, float, int]:
        """See :meth:`Placer.fit_area`."""
        rect = self.frame.rect
        return rect.width * SFX_WIDTH, rect.height * SFX_HEIGHT, self.frame.spec.sfx_max_size

    def text_widths(self) -> Sequence[float]:
        """See :meth:`Placer.text_widths`."""
        return [self.frame.rect.width * SFX_WIDTH]

    def outer(self, width: int, height: int) -> tuple[float, float]:
        """See :meth:`Placer.outer`: the bounds of the outlined text block once rotated."""
        rad = math.radians(abs(self.rotation))
        out = self.frame.spec.outline * 2
        w, h = width + 2 * out, height + 2 * out
        return w * math.cos(rad) + h * math.sin(rad), w * math.sin(rad) + h * math.cos(rad)

    def find(self, width: float, height: float, blocked: Sequence[Box]) -> Spot | None:
        """See :meth:`Placer.find`."""
        f = self.frame
        spot = find_spot(width, height, f.rect, f.pad, f.gap, blocked, prefer_x=f.rect.x1, prefer_bottom=True)
        return Spot(spot[0]) if spot else None

    def item(self, spot: Spot, size: int, lines: Sequence[str], width: int, height: int) -> LetterItem:
        """See :meth:`Placer.item`."""
        return LetterItem(
            kind="sfx",
            panel_id=self.frame.panel_id,
            text=self.text,
            lines=tuple(lines),
            box=spot.box,
            text_box=_centred(spot.box, width, height),
            font=self.font.family,
            size=size,
            rotation=self.rotation,
            fill=self.fill,
        )


def _heads(plan: ComicPlan, panel: PanelPlan, rect: Rect) -> dict[str, tuple[float, float]]:
    """Each staged character's head on the page: ``(centre x, top y)`` pixels."""
    figures: list[Figure] = stage_cast(panel_cast(plan, panel), panel.camera, rect.width / rect.height)
    return {f.id: (rect.x0 + f.head_center[0] * rect.width, rect.y0 + f.head[1] * rect.height) for f in figures}


def panel_placers(plan: ComicPlan, panel: PanelPlan, frame: Frame, style: Style) -> list[Placer]:
    """The placers of a panel's lettering in placing order: caption, balloons in reading order, SFX.

    Each text gets the family of :func:`storybench.fonts.choose_family` (the style's, or
    the fallback for its script).
    """
    spec, language = frame.spec, plan.language
    placers: list[Placer] = []
    if panel.narrative:
        font = choose_family(style.font, panel.narrative, language)
        placers.append(CaptionPlacer(frame, "caption", panel.narrative, font, spec.line_spacing))
    heads = _heads(plan, panel, frame.rect) if panel.dialogue else {}
    for index, line in enumerate(panel.dialogue):
        placers.append(
            BalloonPlacer(
                frame,
                "balloon",
                line.text,
                choose_family(style.font, line.text, language),
                spec.line_spacing,
                speaker=line.character,
                index=index,
                count=max(1, len(panel.dialogue)),
                head=heads.get(line.character),
            )
        )
    if panel.sfx:
        placers.append(
            SfxPlacer(
                frame,
                "sfx",
                panel.sfx,
                choose_family(style.sfx_font, panel.sfx, language),
                SFX_SPACING,
                rotation=SFX_TILT if len(panel.id) % 2 else -SFX_TILT,
                fill=style.palette.accent,
            )
        )
    return placers
