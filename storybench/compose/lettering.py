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
    * items of a panel do not cover each other while there is room, and every item
      stays inside its panel rectangle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from PIL import Image, ImageDraw
from pydantic import BaseModel, ConfigDict

from storybench.compose.fonts import get_font
from storybench.plan.layouts import Rect
from storybench.plan.models import ComicPlan, PanelPlan
from storybench.plan.styles import Style
from storybench.render.spec import CastMember
from storybench.render.staging import stage_cast

__all__ = ["ELLIPSE_K", "LetterItem", "LetteringSpec", "draw_items", "fit_text", "letter_panel", "wrap_text"]

Box = tuple[int, int, int, int]
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
    """

    model_config = ConfigDict(frozen=True)

    reference_width: int = 1988
    max_size: int = 46
    min_size: int = 18
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


def wrap_text(text: str, font, max_width: float) -> list[str]:
    """Greedy word wrap of ``text`` to lines at most ``max_width`` pixels wide.

    Words longer than a line are broken between characters. Newlines in ``text`` are kept.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}" if current else word
            if font.getlength(candidate) <= max_width:
                current = candidate
                continue
            if current:
                lines.append(current)
            current = ""
            while font.getlength(word) > max_width and len(word) > 1:
                cut = len(word) - 1
                while cut > 1 and font.getlength(word[:cut] + "-") > max_width:
                    cut -= 1
                lines.append(word[:cut] + "-")
                word = word[cut:]
            current = word
        lines.append(current)
    return [line for line in lines if line] or [""]


def _measure(lines: Sequence[str], font, spacing: float) -> tuple[int, int]:
    width = max((font.getlength(line) for line in lines), default=0)
    return math.ceil(width), _line_height(font, spacing) * len(lines)


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
def _overlaps(a: Box, b: Box, gap: int = 0) -> bool:
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap


def _clamp_box(x0: float, y0: float, w: float, h: float, rect: Rect, pad: int) -> Box:
    x0 = min(max(x0, rect.x0 + pad), rect.x1 - pad - w)
    y0 = min(max(y0, rect.y0 + pad), rect.y1 - pad - h)
    x0 = max(x0, rect.x0)
    y0 = max(y0, rect.y0)
    return (round(x0), round(y0), round(x0 + w), round(y0 + h))


def _cast(plan: ComicPlan, panel: PanelPlan) -> list[CastMember]:
    speakers = {d.character for d in panel.dialogue}
    known = {c.id: c for c in plan.characters}
    return [
        CastMember(id=cid, name=known[cid].name, speaks=cid in speakers) for cid in panel.characters if cid in known
    ]


def letter_panel(
    plan: ComicPlan, panel: PanelPlan, rect: Rect, style: Style, spec: LetteringSpec | None = None
) -> list[LetterItem]:
    """Lay out the lettering of one panel inside ``rect`` (page pixels).

    Args:
        plan: the plan (for the cast of the panel).
        panel: the panel to letter.
        rect: the panel's rectangle on the page, pixels.
        style: the plan's style (fonts, SFX colour).
        spec: lettering sizes already scaled to the page width (``LetteringSpec().scaled(w)``).

    Returns:
        Items in drawing order: caption, balloons in reading order, SFX.
    """
    spec = spec or LetteringSpec()
    unit = min(rect.width, rect.height)
    pad = max(4, round(unit * 0.035))
    gap = max(3, round(unit * 0.02))
    placed: list[Box] = []
    items: list[LetterItem] = []
    family = style.font

    if panel.narrative:
        inner = max(6, round(spec.max_size * 0.45))
        max_w = max(20, min(rect.width * 0.66, rect.width - 2 * pad) - 2 * inner)
        size, lines, (tw, th) = fit_text(
            panel.narrative,
            family,
            max_w,
            rect.height * 0.28,
            round(spec.max_size * 0.9),
            spec.min_size,
            spec.line_spacing,
        )
        box = _clamp_box(rect.x0 + pad, rect.y0 + pad, tw + 2 * inner, th + 2 * inner, rect, pad)
        text_box = (box[0] + inner, box[1] + inner, box[0] + inner + tw, box[1] + inner + th)
        items.append(
            LetterItem(
                kind="caption",
                panel_id=panel.id,
                text=panel.narrative,
                lines=tuple(lines),
                box=box,
                text_box=text_box,
                font=family,
                size=size,
                fill="#fff4c4",
            )
        )
        placed.append(box)

    figures = {f.id: f for f in stage_cast(_cast(plan, panel), panel.camera, rect.width / rect.height)}
    count = max(1, len(panel.dialogue))
    for line in panel.dialogue:
        max_tw = max(20, min(rect.width * 0.62, rect.width - 2 * pad) / ELLIPSE_K)
        max_th = max(10, rect.height * (0.42 if count == 1 else 0.62 / count) / ELLIPSE_K)
        size, lines, (tw, th) = fit_text(
            line.text, family, max_tw, max_th, spec.max_size, spec.min_size, spec.line_spacing
        )
        bw, bh = tw * ELLIPSE_K + 2 * gap, th * ELLIPSE_K + 2 * gap
        bw, bh = min(bw, rect.width - 2), min(bh, rect.height - 2)
        figure = figures.get(line.character)
        if figure is not None:
            hx = rect.x0 + figure.head_center[0] * rect.width
            head_top = rect.y0 + figure.head[1] * rect.height
        else:
            hx, head_top = None, None
        # horizontal: centred over the speaker, else by reading order across the panel
        index = len([i for i in items if i.kind == "balloon"])
        cx = hx if hx is not None else rect.x0 + rect.width * (0.3 + 0.4 * (index % 2))
        y = rect.y0 + pad
        box = _clamp_box(cx - bw / 2, y, bw, bh, rect, pad)
        # push down below anything it would cover
        for _ in range(len(placed) + 1):
            hits = [b for b in placed if _overlaps(box, b, gap)]
            if not hits:
                break
            y = max(b[3] for b in hits) + gap
            box = _clamp_box(box[0], y, bw, bh, rect, pad)
        if any(_overlaps(box, b, 0) for b in placed):  # no room below: try beside the others
            for candidate_x in (rect.x1 - pad - bw, rect.x0 + pad):
                trial = _clamp_box(candidate_x, rect.y0 + pad, bw, bh, rect, pad)
                for _ in range(len(placed) + 1):
                    hits = [b for b in placed if _overlaps(trial, b, gap)]
                    if not hits:
                        break
                    trial = _clamp_box(trial[0], max(b[3] for b in hits) + gap, bw, bh, rect, pad)
                if not any(_overlaps(trial, b, 0) for b in placed):
                    box = trial
                    break
        ecx, ecy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        text_box = (round(ecx - tw / 2), round(ecy - th / 2), round(ecx - tw / 2) + tw, round(ecy - th / 2) + th)
        # tail: toward the speaker's head, stopping short of it; off-shot speakers: toward the edge below
        tail_len = max(gap * 2, unit * 0.08)
        if hx is not None and head_top is not None and head_top > box[3]:
            tx = ecx + (hx - ecx) * 0.6
            ty = box[3] + min(tail_len * 1.6, (head_top - box[3]) * 0.7)
        elif hx is not None:
            tx = hx
            ty = box[3] + tail_len * 0.6
        else:
            tx, ty = ecx + bw * 0.15, box[3] + tail_len
        tail = (round(min(max(tx, rect.x0 + 2), rect.x1 - 2)), round(min(max(ty, rect.y0 + 2), rect.y1 - 2)))
        items.append(
            LetterItem(
                kind="balloon",
                panel_id=panel.id,
                text=line.text,
                lines=tuple(lines),
                speaker=line.character,
                box=box,
                text_box=text_box,
                tail=tail,
                font=family,
                size=size,
            )
        )
        placed.append(box)

    if panel.sfx:
        sfx_family = style.sfx_font
        size, lines, (tw, th) = fit_text(
            panel.sfx, sfx_family, rect.width * 0.7, rect.height * 0.24, spec.sfx_max_size, spec.min_size, 1.0
        )
        rotation = 8.0 if (len(panel.id) % 2) else -8.0
        rad = math.radians(abs(rotation))
        out = spec.outline * 2
        rw = (tw + 2 * out) * math.cos(rad) + (th + 2 * out) * math.sin(rad)
        rh = (tw + 2 * out) * math.sin(rad) + (th + 2 * out) * math.cos(rad)
        rw, rh = min(rw, rect.width - 2), min(rh, rect.height - 2)
        box = _clamp_box(rect.x1 - pad - rw, rect.y1 - pad - rh, rw, rh, rect, pad)
        if any(_overlaps(box, b) for b in placed):
            alt = _clamp_box(rect.x0 + pad, rect.y1 - pad - rh, rw, rh, rect, pad)
            if not any(_overlaps(alt, b) for b in placed):
                box = alt
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
    return items


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


def _tail_base(box: Box, tip: tuple[int, int]) -> tuple[tuple[float, float], tuple[float, float]]:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    a, b = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
    angle = math.atan2((tip[1] - cy) / max(b, 1), (tip[0] - cx) / max(a, 1))
    spread = 0.22
    pts = []
    for d in (-spread, spread):
        t = angle + d
        # 0.9: the base sits just inside the ellipse so the tail's fill covers the outline seam
        pts.append((cx + 0.9 * a * math.cos(t), cy + 0.9 * b * math.sin(t)))
    return pts[0], pts[1]


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
                p1, p2 = _tail_base(item.box, item.tail)
                draw.polygon([p1, item.tail, p2], fill=BALLOON_FILL)
                draw.line([p1, item.tail, p2], fill=INK, width=width, joint="curve")
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
