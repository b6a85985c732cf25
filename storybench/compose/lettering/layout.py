"""The one placing loop: fit, try shares of the panel and smaller sizes, find a free spot.

For every placer of a panel in order (caption, balloons in reading order, SFX), the
text is fitted at the largest size that fits its first area; then, for each text
width the placer offers (narrowest share of the panel first) and each size from that
one down to ``spec.min_size`` (steps of about 12 %), the item goes to the first spot
where it covers no item placed before it nor any balloon's tail. An item that fits
nowhere even at ``min_size`` is left off and recorded (:class:`DroppedItem`), so
lettering never hides text while the render says it completed; an item whose text
lacks glyphs (or libraqm's shaping) here is recorded too (:class:`GlyphGap`).
"""

from __future__ import annotations

from storybench.compose.lettering.fit import block, fit_text, sizes_from
from storybench.compose.lettering.items import DroppedItem, GlyphGap, LetteringSpec, LetterItem, PanelLettering
from storybench.compose.lettering.placers import Frame, Placer, Spot, panel_placers
from storybench.compose.placement import Box
from storybench.plan.layouts import Rect
from storybench.plan.models import ComicPlan, PanelPlan
from storybench.plan.styles import Style

__all__ = ["layout_panel", "letter_panel", "place"]


def place(placer: Placer, blocked: list[Box]) -> LetterItem | None:
    """Place one item (see the module doc); on success its boxes are added to ``blocked``.

    Args:
        placer: the item's placer.
        blocked: boxes of the panel's items and tails placed so far (page pixels).

    Returns:
        The placed item, or ``None`` when it fits nowhere at the minimum size.
    """
    spec = placer.frame.spec
    family, text = placer.font.family, placer.text
    width, height, max_size = placer.fit_area()
    best, _, _ = fit_text(text, family, width, height, max_size, spec.min_size, placer.spacing, breaks=placer.breaks)
    max_w, max_h = placer.max_outer()
    for text_width in placer.text_widths():
        for size in sizes_from(best, spec.min_size):
            lines, tw, th = block(text, family, size, text_width, placer.spacing, breaks=placer.breaks)
            w, h = placer.outer(tw, th)
            if w > max_w or h > max_h:
                continue
            spot: Spot | None = placer.find(w, h, blocked)
            if spot is not None:
                blocked.append(spot.box)
                blocked.extend(spot.extra)
                return placer.item(spot, size, lines, tw, th)
    return None


def layout_panel(
    plan: ComicPlan, panel: PanelPlan, rect: Rect, style: Style, spec: LetteringSpec | None = None
) -> PanelLettering:
    """Lay out the lettering of one panel inside ``rect`` (page pixels), never covering text.

    Args:
        plan: the plan (the panel's cast, its language for the fonts).
        panel: the panel to letter.
        rect: the panel's rectangle on the page, pixels.
        style: the plan's style (fonts, SFX colour).
        spec: lettering sizes already scaled to the page width (``LetteringSpec().scaled(w)``).

    Returns:
        The placed items, what was dropped and what lacks glyphs (see
        :meth:`PanelLettering.problem` and :class:`GlyphGap`).
    """
    frame = Frame.of(panel.id, rect, spec or LetteringSpec())
    blocked: list[Box] = []
    items: list[LetterItem] = []
    dropped: list[DroppedItem] = []
    gaps: list[GlyphGap] = []
    for placer in panel_placers(plan, panel, frame, style):
        item = place(placer, blocked)
        if item is None:
            dropped.append(DroppedItem(kind=placer.kind, text=placer.text, speaker=placer.speaker))
            continue
        items.append(item)
        font = placer.font
        if font.missing or font.unshaped:
            gaps.append(
                GlyphGap(
                    kind=placer.kind,
                    text=placer.text,
                    font=font.family,
                    chars=font.missing,
                    elsewhere=font.elsewhere,
                    unshaped=font.unshaped,
                )
            )
    return PanelLettering(
        panel_id=panel.id,
        items=tuple(items),
        balloons=len(panel.dialogue),
        dropped=tuple(dropped),
        glyph_gaps=tuple(gaps),
        min_size=frame.spec.min_size,
    )


def letter_panel(
    plan: ComicPlan, panel: PanelPlan, rect: Rect, style: Style, spec: LetteringSpec | None = None
) -> list[LetterItem]:
    """The placed lettering items of one panel (see :func:`layout_panel`, which also says what was left off)."""
    return list(layout_panel(plan, panel, rect, style, spec).items)
