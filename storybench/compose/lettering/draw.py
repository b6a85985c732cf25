"""Drawing lettering items onto a page: balloons, captions and tilted, outlined SFX.

Right-to-left text (see :func:`storybench.fonts.text_direction`) is laid out right to
left by libraqm, and a caption's right-to-left lines are set flush right.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PIL import Image, ImageDraw

from storybench.compose.lettering.fit import line_height
from storybench.compose.lettering.items import BALLOON_FILL, INK, LetteringSpec, LetterItem
from storybench.compose.placement import tail_polygon
from storybench.fonts import get_font, raqm_available, text_direction

__all__ = ["SFX_STROKE", "draw_items", "rgb"]

#: SFX outline width, fraction of its size (at least ``MIN_SFX_STROKE`` px).
SFX_STROKE, MIN_SFX_STROKE = 0.07, 2
#: Outline of balloons and captions, at least this many pixels.
MIN_OUTLINE = 2

RGB = tuple[int, int, int]


def rgb(colour: str) -> RGB:
    """``"#fff4c4"`` → ``(255, 244, 196)``."""
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _direction(item: LetterItem) -> dict[str, Any]:
    """Pillow's ``direction`` for the item's text (only with libraqm, which alone can honour it)."""
    if text_direction(item.text) == "rtl" and raqm_available():
        return {"direction": "rtl"}
    return {}


def _draw_lines(draw: ImageDraw.ImageDraw, item: LetterItem, align: str, spacing: float) -> None:
    font = get_font(item.font, item.size)
    lh = line_height(font, spacing)
    x0, y0, x1, _ = item.text_box
    kw = _direction(item)
    for i, line in enumerate(item.lines):
        y = y0 + i * lh
        if align == "center":
            draw.text(((x0 + x1) / 2, y), line, font=font, fill=INK, anchor="ma", **kw)
        elif kw:  # right to left: flush right
            draw.text((x1, y), line, font=font, fill=INK, anchor="ra", **kw)
        else:
            draw.text((x0, y), line, font=font, fill=INK, anchor="la")


def draw_items(page: Image.Image, items: Sequence[LetterItem], spec: LetteringSpec | None = None) -> None:
    """Draw lettering items onto ``page`` (RGB) in place.

    Args:
        page: the composed page.
        items: from :func:`~storybench.compose.lettering.letter_panel` (or an Editor JSON document).
        spec: lettering sizes (outline width, line spacing) for this page width.
    """
    spec = spec or LetteringSpec().scaled(page.width)
    draw = ImageDraw.Draw(page)
    width = max(MIN_OUTLINE, spec.outline)
    for item in items:
        if item.kind == "caption":
            draw.rectangle(item.box, fill=rgb(item.fill), outline=INK, width=width)
            _draw_lines(draw, item, "left", spec.line_spacing)
        elif item.kind == "balloon":
            draw.ellipse(item.box, fill=BALLOON_FILL, outline=INK, width=width)
            if item.tail is not None:
                tail = tail_polygon(item.box, item.tail)
                draw.polygon(tail, fill=BALLOON_FILL)
                draw.line(tail, fill=INK, width=width, joint="curve")
            _draw_lines(draw, item, "center", spec.line_spacing)
        else:
            _draw_sfx(page, item)


def _draw_sfx(page: Image.Image, item: LetterItem) -> None:
    font = get_font(item.font, item.size)
    stroke = max(MIN_SFX_STROKE, round(item.size * SFX_STROKE))
    tw = item.text_box[2] - item.text_box[0]
    th = item.text_box[3] - item.text_box[1]
    layer = Image.new("RGBA", (tw + 4 * stroke, th + 4 * stroke), (0, 0, 0, 0))
    ImageDraw.Draw(layer).text(
        (layer.width / 2, 2 * stroke),
        "\n".join(item.lines),
        font=font,
        fill=(*rgb(item.fill), 255),
        anchor="ma",
        align="center",
        stroke_width=stroke,
        stroke_fill=(*INK, 255),
        **_direction(item),
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
