"""Lettering: speech balloons, caption boxes and SFX, laid out as data, then drawn.

Two steps, so an editor can move and restyle lettering (see ``editor_json``):

1. :func:`letter_panel` lays out one panel's lettering as :class:`LetterItem` s —
   kind, text, wrapped lines, box and tail point in page pixels, font and fitted size;
2. :func:`draw_items` draws items onto a page.

Rules:
    * one speech balloon (an ellipse) per dialogue line, in reading order, near the
      speaker and stacked downward; its tail points toward the speaker's head as
      staged by :func:`storybench.render.staging.stage_cast` (a heuristic for images
      from real backends); a speaker who is not in the shot gets a tail toward the
      nearest panel edge below the balloon;
    * the narrative goes in a caption box at the top left;
    * the SFX is lettered large, outlined and rotated a few degrees, low in the panel;
    * text is word-wrapped and its size fitted (largest size that fits, never below
      ``min_size``) so it never overflows its balloon or box; an ellipse holds its text
      rectangle when both semi-axes are at least √2 times the rectangle's half sides;
    * no item covers another item or a balloon's tail, and every item stays inside its
      panel rectangle; an item that fits nowhere at ``min_size`` is left off the page
      and reported (:func:`layout_panel`, :class:`PanelLettering`), so lettering never
      hides text while the render says it completed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from PIL import Image, ImageDraw
from pydantic import BaseModel, ConfigDict

from storybench.compose.fonts import get_font
from storybench.compose.placement import Box, bbox, find_spot, overlaps, tail_polygon
from storybench.plan.layouts import Rect
from storybench.plan.models import ComicPlan, PanelPlan
from storybench.plan.styles import Style
from storybench.render.spec import CastMember
from storybench.render.staging import stage_cast

__all__ = [
    "ELLIPSE_K",
    "LetterItem",
    "LetteringSpec",
    "PanelLettering",
    "draw_items",
    "fit_text",
    "layout_panel",
    "letter_panel",
    "wrap_text",
]

ELLIPSE_K = 1.42  # ellipse axes / text rectangle sides; ≥ √2 so the rectangle fits inside
BALLOON_FILL = (255, 255, 255)
CAPTION_FILL = (255, 244, 196)
INK = (15, 15, 15)


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
        font: font family (see ``storybench.compose.fonts``).
        size: font size in pixels.
        rotation: degrees counter-clockwise (SFX only).
        fill: ``#rrggbb`` of the text (SFX) or of the box (balloons, captions).
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["balloon", "caption", "sfx"]
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


# ---------------------------------------------------------------- text fitting
def _line_height(font, spacing: float) -> int:
    ascent, descent = font.getmetrics()
    return max(1, round((ascent + descent) * spacing))


_WIDTHS: dict[tuple[object, ...], float] = {}
_WIDTHS_MAX = 200_000


def _width(font, text: str) -> float:
    """``font.getlength(text)``, cached per font file, size and text (shaping is slow)."""
    key = (getattr(font, "path", None) or id(font), getattr(font, "size", 0), text)
    width = _WIDTHS.get(key)
    if width is None:
        if len(_WIDTHS) >= _WIDTHS_MAX:
            _WIDTHS.clear()
        width = _WIDTHS[key] = font.getlength(text)
    return width


def _line_width(font, line: str) -> float:
    """Width of a wrapped line: its words measured one by one plus the spaces between them."""
    words = line.split()
    return sum(_width(font, w) for w in words) + _width(font, " ") * max(0, len(words) - 1)


def _break_word(word: str, font, max_width: float) -> tuple[str, str]:
    """Split ``word`` into the longest head that fits with a hyphen, and the rest (binary search)."""
    lo, hi = 1, len(word) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _width(font, word[:mid] + "-") <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return word[:lo] + "-", word[lo:]


def wrap_text(text: str, font, max_width: float) -> list[str]:
    """Greedy word wrap of ``text`` to lines at most ``max_width`` pixels wide.

    Words longer than a line are broken between characters (with a hyphen).
    Newlines in ``text`` are kept. Each word is measured once per font and size.
    """
    space = _width(font, " ")
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current: list[str] = []
        used = 0.0
        for word in paragraph.split():
            w = _width(font, word)
            if current and used + space + w <= max_width:
                current.append(word)
                used += space + w
                continue
            if current:
                lines.append(" ".join(current))
            while w > max_width and len(word) > 1:
                head, word = _break_word(word, font, max_width)
                lines.append(head)
                w = _width(font, word)
            current, used = [word], w
        lines.append(" ".join(current))
    return [line for line in lines if line] or [""]


def _measure(lines: Sequence[str], font, spacing: float) -> tuple[int, int]:
    width = max((_line_width(font, line) for line in lines), default=0)
    # + 1.5 % and a pixel: kerning and shaping across word boundaries, measured word by word
    return math.ceil(width * 1.015) + 1, _line_height(font, spacing) * len(lines)


def fit_text(
    text: str, family: str, max_width: float, max_height: float, max_size: int, min_size: int, spacing: float = 1.12
) -> tuple[int, list[str], tuple[int, int]]:
    """The largest font size in ``min_size..max_size`` at which ``text`` wraps into
    ``max_width`` x ``max_height`` pixels.

    Returns:
        ``(size, lines, (width, height))``; at ``min_size`` when nothing larger fits
        (the caller then grows the box: text is never cut).
    """
    best = None
    lo, hi = min_size, max(min_size, max_size)
    while lo <= hi:  # binary search: the fitted height shrinks as the size does
        mid = (lo + hi) // 2
        font = get_font(family, mid)
        lines = wrap_text(text, font, max_width)
        w, h = _measure(lines, font, spacing)
        if w <= max_width and h <= max_height:
            best = (mid, lines, (w, h))
            lo = mid + 1
        else:
            hi = mid - 1
    if best is None:
        font = get_font(family, min_size)
        lines = wrap_text(text, font, max_width)
        best = (min_size, lines, _measure(lines, font, spacing))
    return best


# ---------------------------------------------------------------- layout
class PanelLettering(BaseModel):
    """The lettering of one panel and what could not be placed.

    Attributes:
        panel_id: the panel.
        items: placed items in drawing order (caption, balloons in reading order, SFX).
        balloons: dialogue lines in the plan.
        balloons_dropped: lines that fit nowhere in the panel at ``min_size`` without
            covering another item or a tail (they are left off the page).
        caption_dropped, sfx_dropped: the caption / SFX did not fit.
        words_dropped: words of the text left off.
        min_size: the minimum readable size used, pixels.
    """

    model_config = ConfigDict(frozen=True)

    panel_id: str
    items: tuple[LetterItem, ...]
    balloons: int = 0
    balloons_dropped: int = 0
    caption_dropped: bool = False
    sfx_dropped: bool = False
    words_dropped: int = 0
    min_size: int = 0

    @property
    def fits(self) -> bool:
        """Everything was placed."""
        return not (self.balloons_dropped or self.caption_dropped or self.sfx_dropped)

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


def _block(text: str, family: str, size: int, max_width: float, spacing: float) -> tuple[list[str], int, int]:
    font = get_font(family, size)
    lines = wrap_text(text, font, max_width)
    w, h = _measure(lines, font, spacing)
    return lines, w, h


def _sizes(best: int, min_size: int) -> list[int]:
    """Font sizes to try, from ``best`` down to ``min_size`` in steps of about 12%."""
    out, size = [], max(best, min_size)
    while size > min_size:
        out.append(size)
        size = min(size - 1, int(size * 0.88))
    return [*out, min_size]


def _cast(plan: ComicPlan, panel: PanelPlan) -> list[CastMember]:
    speakers = {d.character for d in panel.dialogue}
    known = {c.id: c for c in plan.characters}
    return [
        CastMember(id=cid, name=known[cid].name, speaks=cid in speakers) for cid in panel.characters if cid in known
    ]


def _tail_tips(box: Box, rect: Rect, hx: float | None, head_top: float | None, length: float) -> list[tuple[int, int]]:
    """Candidate tail tips, best first: toward the speaker's head, else down; then other directions."""
    ecx, bottom = (box[0] + box[2]) / 2, box[3]
    tips: list[tuple[float, float]] = []
    if hx is not None and head_top is not None and head_top > bottom:
        tips.append((ecx + (hx - ecx) * 0.6, bottom + min(length * 1.6, (head_top - bottom) * 0.7)))
    elif hx is not None:
        tips.append((hx, bottom + length * 0.6))
    bw = box[2] - box[0]
    ecy = (box[1] + box[3]) / 2
    tips += [
        (ecx + bw * 0.15, bottom + length),
        (ecx - bw * 0.15, bottom + length),
        (ecx, bottom + length * 0.5),
        (box[0] - length * 0.6, ecy + length * 0.3),
        (box[2] + length * 0.6, ecy + length * 0.3),
        (ecx, box[1] - length * 0.6),
    ]
    out = []
    for tx, ty in tips:
        out.append((round(min(max(tx, rect.x0 + 2), rect.x1 - 2)), round(min(max(ty, rect.y0 + 2), rect.y1 - 2))))
    return out


def layout_panel(
    plan: ComicPlan, panel: PanelPlan, rect: Rect, style: Style, spec: LetteringSpec | None = None
) -> PanelLettering:
    """Lay out the lettering of one panel inside ``rect`` (page pixels), never covering text.

    Each item is fitted at the largest size that fits its share of the panel, then
    placed where it covers no item placed before it nor any balloon's tail; when no
    spot is free the size steps down to ``spec.min_size`` (and balloons may widen to
    the panel). What fits nowhere even at ``min_size`` is left off and counted in the
    result (see :meth:`PanelLettering.problem`).

    Args:
        plan: the plan (for the cast of the panel).
        panel: the panel to letter.
        rect: the panel's rectangle on the page, pixels.
        style: the plan's style (fonts, SFX colour).
        spec: lettering sizes already scaled to the page width (``LetteringSpec().scaled(w)``).

    Returns:
        The placed items and what was dropped.
    """
    spec = spec or LetteringSpec()
    unit = min(rect.width, rect.height)
    pad = max(4, round(unit * 0.035))
    gap = max(3, round(unit * 0.02))
    blocked: list[Box] = []
    items: list[LetterItem] = []
    family = style.font
    dropped = {"balloons": 0, "caption": False, "sfx": False, "words": 0}
    inner_w, inner_h = rect.width - 2 * pad, rect.height - 2 * pad

    if panel.narrative:
        inner = max(6, round(spec.max_size * 0.45))
        text = panel.narrative
        best, _, _ = fit_text(
            text,
            family,
            max(20, min(rect.width * 0.66, inner_w) - 2 * inner),
            rect.height * 0.28,
            round(spec.max_size * 0.9),
            spec.min_size,
            spec.line_spacing,
        )
        placed = None
        for share in (0.66, 1.0):
            max_w = max(20, min(rect.width * share, inner_w) - 2 * inner)
            for size in _sizes(best, spec.min_size):
                lines, tw, th = _block(text, family, size, max_w, spec.line_spacing)
                w, h = tw + 2 * inner, th + 2 * inner
                if w > inner_w or h > inner_h * 0.7:
                    continue
                spot = find_spot(w, h, rect, pad, gap, blocked, prefer_x=rect.x0)
                if spot:
                    placed = (spot[0], size, lines, tw, th)
                    break
            if placed:
                break
        if placed is None:
            dropped["caption"], dropped["words"] = True, dropped["words"] + len(text.split())
        else:
            box, size, lines, tw, th = placed
            text_box = (box[0] + inner, box[1] + inner, box[0] + inner + tw, box[1] + inner + th)
            items.append(
                LetterItem(
                    kind="caption",
                    panel_id=panel.id,
                    text=text,
                    lines=tuple(lines),
                    box=box,
                    text_box=text_box,
                    font=family,
                    size=size,
                    fill="#fff4c4",
                )
            )
            blocked.append(box)

    figures = {f.id: f for f in stage_cast(_cast(plan, panel), panel.camera, rect.width / rect.height)}
    count = max(1, len(panel.dialogue))
    tail_len = max(gap * 2, unit * 0.08)
    for index, line in enumerate(panel.dialogue):
        figure = figures.get(line.character)
        hx = rect.x0 + figure.head_center[0] * rect.width if figure is not None else None
        head_top = rect.y0 + figure.head[1] * rect.height if figure is not None else None
        prefer_x = hx if hx is not None else rect.x0 + rect.width * (0.3 + 0.4 * (index % 2))
        max_th = max(10, rect.height * (0.42 if count == 1 else 0.62 / count) / ELLIPSE_K)
        best, _, _ = fit_text(
            line.text,
            family,
            max(20, min(rect.width * 0.62, inner_w) / ELLIPSE_K),
            max_th,
            spec.max_size,
            spec.min_size,
            spec.line_spacing,
        )

        chosen_tip: list[tuple[int, int]] = []

        def accept(
            box: Box, hx: float | None = hx, head_top: float | None = head_top, chosen: list = chosen_tip
        ) -> list[Box] | None:
            for tip in _tail_tips(box, rect, hx, head_top, tail_len):
                tail_box = bbox(tail_polygon(box, tip))
                if not any(overlaps(tail_box, b) for b in blocked):
                    chosen[:] = [tip]
                    return [tail_box]
            return None

        balloon: tuple[tuple[Box, Sequence[Box]], int, list[str], int, int, tuple[int, int]] | None = None
        for share in (0.62, 0.8, 1.0):
            max_tw = max(20, min(rect.width * share, inner_w) / ELLIPSE_K - 2 * gap)
            for size in _sizes(best, spec.min_size):
                lines, tw, th = _block(line.text, family, size, max_tw, spec.line_spacing)
                bw, bh = tw * ELLIPSE_K + 2 * gap, th * ELLIPSE_K + 2 * gap
                if bw > inner_w or bh > inner_h:
                    continue
                spot = find_spot(bw, bh, rect, pad, gap, blocked, prefer_x=prefer_x, accept=accept)
                if spot:
                    balloon = (spot, size, lines, tw, th, chosen_tip[0])
                    break
            if balloon:
                break
        if balloon is None:
            dropped["balloons"] += 1
            dropped["words"] += len(line.text.split())
            continue
        (box, extra), size, lines, tw, th, tip = balloon
        ecx, ecy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        text_box = (round(ecx - tw / 2), round(ecy - th / 2), round(ecx - tw / 2) + tw, round(ecy - th / 2) + th)
        items.append(
            LetterItem(
                kind="balloon",
                panel_id=panel.id,
                text=line.text,
                lines=tuple(lines),
                speaker=line.character,
                box=box,
                text_box=text_box,
                tail=tip,
                font=family,
                size=size,
            )
        )
        blocked.append(box)
        blocked.extend(extra)

    if panel.sfx:
        sfx_family = style.sfx_font
        rotation = 8.0 if (len(panel.id) % 2) else -8.0
        rad = math.radians(abs(rotation))
        out = spec.outline * 2
        best, _, _ = fit_text(
            panel.sfx, sfx_family, rect.width * 0.7, rect.height * 0.24, spec.sfx_max_size, spec.min_size, 1.0
        )
        placed = None
        for size in _sizes(best, spec.min_size):
            lines, tw, th = _block(panel.sfx, sfx_family, size, rect.width * 0.7, 1.0)
            rw = (tw + 2 * out) * math.cos(rad) + (th + 2 * out) * math.sin(rad)
            rh = (tw + 2 * out) * math.sin(rad) + (th + 2 * out) * math.cos(rad)
            if rw > inner_w or rh > inner_h:
                continue
            spot = find_spot(rw, rh, rect, pad, gap, blocked, prefer_x=rect.x1, prefer_bottom=True)
            if spot:
                placed = (spot[0], size, lines, tw, th)
                break
        if placed is None:
            dropped["sfx"], dropped["words"] = True, dropped["words"] + len(panel.sfx.split())
        else:
            box, size, lines, tw, th = placed
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            text_box = (round(cx - tw / 2), round(cy - th / 2), round(cx - tw / 2) + tw, round(cy - th / 2) + th)
            items.append(
                LetterItem(
                    kind="sfx",
                    panel_id=panel.id,
                    text=panel.sfx,
                    lines=tuple(lines),
                    box=box,
                    text_box=text_box,
                    font=sfx_family,
                    size=size,
                    rotation=rotation,
                    fill=style.palette.accent,
                )
            )
    return PanelLettering(
        panel_id=panel.id,
        items=tuple(items),
        balloons=len(panel.dialogue),
        balloons_dropped=int(dropped["balloons"]),
        caption_dropped=bool(dropped["caption"]),
        sfx_dropped=bool(dropped["sfx"]),
        words_dropped=int(dropped["words"]),
        min_size=spec.min_size,
    )


def letter_panel(
    plan: ComicPlan, panel: PanelPlan, rect: Rect, style: Style, spec: LetteringSpec | None = None
) -> list[LetterItem]:
    """The placed lettering items of one panel (see :func:`layout_panel`, which also says what was left off)."""
    return list(layout_panel(plan, panel, rect, style, spec).items)


# ---------------------------------------------------------------- drawing
def _hex(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _draw_lines(draw: ImageDraw.ImageDraw, item: LetterItem, fill, align: str, spacing: float, **kw) -> None:
    font = get_font(item.font, item.size)
    lh = _line_height(font, spacing)
    x0, y0, x1, _ = item.text_box
    for i, line in enumerate(item.lines):
        y = y0 + i * lh
        if align == "center":
            draw.text(((x0 + x1) / 2, y), line, font=font, fill=fill, anchor="ma", **kw)
        else:
            draw.text((x0, y), line, font=font, fill=fill, anchor="la", **kw)


def draw_items(page: Image.Image, items: Sequence[LetterItem], spec: LetteringSpec | None = None) -> None:
    """Draw lettering items onto ``page`` (RGB) in place.

    Args:
        page: the composed page.
        items: from :func:`letter_panel` (or an Editor JSON document).
        spec: lettering sizes (outline width, line spacing) for this page width.
    """
    spec = spec or LetteringSpec().scaled(page.width)
    draw = ImageDraw.Draw(page)
    width = max(2, spec.outline)
    for item in items:
        if item.kind == "caption":
            draw.rectangle(item.box, fill=_hex(item.fill), outline=INK, width=width)
            _draw_lines(draw, item, INK, "left", spec.line_spacing)
        elif item.kind == "balloon":
            draw.ellipse(item.box, fill=BALLOON_FILL, outline=INK, width=width)
            if item.tail is not None:
                tail = tail_polygon(item.box, item.tail)
                draw.polygon(tail, fill=BALLOON_FILL)
                draw.line(tail, fill=INK, width=width, joint="curve")
            _draw_lines(draw, item, INK, "center", spec.line_spacing)
        else:
            _draw_sfx(page, item, spec)


def _draw_sfx(page: Image.Image, item: LetterItem, spec: LetteringSpec) -> None:
    font = get_font(item.font, item.size)
    stroke = max(2, round(item.size * 0.07))
    tw = item.text_box[2] - item.text_box[0]
    th = item.text_box[3] - item.text_box[1]
    layer = Image.new("RGBA", (tw + 4 * stroke, th + 4 * stroke), (0, 0, 0, 0))
    ImageDraw.Draw(layer).text(
        (layer.width / 2, 2 * stroke),
        "\n".join(item.lines),
        font=font,
        fill=(*_hex(item.fill), 255),
        anchor="ma",
        align="center",
        stroke_width=stroke,
        stroke_fill=(*INK, 255),
    )
    rotated = layer.rotate(item.rotation, resample=Image.Resampling.BICUBIC, expand=True)
    box = item.box
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    # keep the rotated SFX inside its box: scale down if rounding made it larger
    bw, bh = box[2] - box[0], box[3] - box[1]
    if rotated.width > bw or rotated.height > bh:
        f = min(bw / rotated.width, bh / rotated.height)
        rotated = rotated.resize(
            (max(1, int(rotated.width * f)), max(1, int(rotated.height * f))), Image.Resampling.BICUBIC
        )
    page.paste(rotated, (round(cx - rotated.width / 2), round(cy - rotated.height / 2)), rotated)
